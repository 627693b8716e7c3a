TWILIO_ACCOUNT_SID = "{{sid s_pyj}}"
TWILIO_AUTH_TOKEN = (
    "{{part token:t_pyj 0 11}}"
    "{{part t_pyj 11 22}}"
    "{{part t_pyj 22 32}}"
)
BUILD_DIGEST = ("{{part hex32:h_pyj 0 16}}"
                "{{part h_pyj 16 32}}")
