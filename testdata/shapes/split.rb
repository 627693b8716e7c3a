TWILIO_ACCOUNT_SID = "{{sid s_rbs}}"
TWILIO_AUTH_TOKEN = "{{part token:t_rbs 0 16}}" \
  "{{part t_rbs 16 32}}"
