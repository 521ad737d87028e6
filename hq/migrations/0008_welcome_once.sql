-- One welcome bonus per person: HQ finds a person's welcome lots on the cardholder kept and on
-- every cardholder merged into it.
CREATE INDEX cardholders_merged_into ON cardholders (merged_into) WHERE merged_into IS NOT NULL;
