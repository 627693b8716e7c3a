INSERT INTO twilio_accounts (id, auth_token_id) VALUES ('123e4567-e89b-12d3-a456-426614174000', '{{token u2}}');
