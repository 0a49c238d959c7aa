-- The rest of the Plausible Events API contract: whether an event counts
-- for bounce rate, revenue (an exact decimal and its ISO 4217 currency), and
-- what an engagement event reports (scroll depth, engaged time).
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS interactive UInt8 DEFAULT 1 COMMENT '0 when the event was sent as non-interactive (not counted for bounce rate)' AFTER prop_values,
    ADD COLUMN IF NOT EXISTS revenue_amount Decimal(18, 6) DEFAULT 0 COMMENT 'Revenue attached to the event, in revenue_currency; 0 if none' AFTER interactive,
    ADD COLUMN IF NOT EXISTS revenue_currency LowCardinality(String) DEFAULT '' COMMENT 'ISO 4217 code of revenue_amount; empty if none' AFTER revenue_amount,
    ADD COLUMN IF NOT EXISTS scroll_depth UInt8 DEFAULT 0 COMMENT 'Engagement events: how far down the page was scrolled, 0-100' AFTER revenue_currency,
    ADD COLUMN IF NOT EXISTS engaged_ms UInt32 DEFAULT 0 COMMENT 'Engagement events: milliseconds the page was visible and focused' AFTER scroll_depth;
