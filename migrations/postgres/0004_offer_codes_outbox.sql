-- Deleting an outbox row (erasing a customer, clearing a run) checks offer codes by message.
CREATE INDEX offer_codes_outbox ON offer_codes (outbox_id);
