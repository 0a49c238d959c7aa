//! The seam between what a stored row holds and how it is encoded. The
//! privacy layer, which alone builds the anonymous rows, hands their fields
//! out in column order through [`ColumnWriter`]; the sink, which alone
//! knows the wire format (`RowBinary`), implements it. Neither needs the
//! other's internals.

/// Receives a row's fields in column order.
pub trait ColumnWriter {
    fn string(&mut self, s: &str);
    fn strings(&mut self, v: &[String]);
    /// An array of `len` strings handed out one by one (no owned copies);
    /// by default collected and handed to [`ColumnWriter::strings`].
    fn str_array(&mut self, len: usize, items: &mut dyn Iterator<Item = &str>) {
        let v: Vec<String> = items.take(len).map(str::to_string).collect();
        self.strings(&v);
    }
    fn i64(&mut self, n: i64);
    fn u64(&mut self, n: u64);
    fn u32(&mut self, n: u32);
    fn u16(&mut self, n: u16);
    fn u8(&mut self, n: u8);
}
