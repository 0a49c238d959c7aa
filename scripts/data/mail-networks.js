// Keep the ASN ranges of the operators listed in mail-networks.txt.
// Usage: node mail-networks.js <list> <asn-ipv4.csv> <asn-ipv6.csv>
// Output (stdout): operator,first,last,asn, one range per line.
"use strict";
const fs = require("fs");
const [list, ...csvs] = process.argv.slice(2);
const ops = fs
  .readFileSync(list, "utf8")
  .split("\n")
  .filter((l) => l.trim() && !l.startsWith("#"))
  .map((l) => {
    const at = l.indexOf("|");
    return [l.slice(0, at).trim(), new RegExp(l.slice(at + 1).trim(), "i")];
  });
// A CSV line: first,last,asn,organisation (quoted when it holds a comma).
const line = /^([^,]+),([^,]+),(\d+),"?(.*?)"?$/;
let kept = 0;
const out = ["operator,first,last,asn"];
for (const f of csvs) {
  for (const l of fs.readFileSync(f, "utf8").split("\n")) {
    const m = line.exec(l.trim());
    if (!m) continue;
    const hit = ops.find(([, re]) => re.test(m[4]));
    if (hit) {
      out.push(`${hit[0]},${m[1]},${m[2]},${m[3]}`);
      kept++;
    }
  }
}
if (kept === 0) {
  console.error("mail-networks: no range matched; is the ASN data empty?");
  process.exit(1);
}
process.stdout.write(out.join("\n") + "\n");
console.error(`mail-networks: ${kept} ranges of ${ops.length} operators`);
