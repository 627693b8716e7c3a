# Twilio test credentials (magic number +15005550006 works with them)
TWILIO_TEST_ACCOUNT_SID = "{{sid s_test}}"
TWILIO_TEST_AUTH_TOKEN = "{{token t_test}}"
