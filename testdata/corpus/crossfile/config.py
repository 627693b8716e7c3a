TWILIO_ACCOUNT_SID = "{{sid s_cross}}"
