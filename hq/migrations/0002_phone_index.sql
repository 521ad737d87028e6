-- HQ finds a duplicate enrolled offline on another terminal by phone (normalized E.164 in the holder).
CREATE INDEX cardholders_phone ON cardholders ((holder->>'phone')) WHERE merged_into IS NULL;
