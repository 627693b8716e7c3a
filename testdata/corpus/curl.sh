#!/bin/sh
curl -X POST https://api.twilio.com/2010-04-01/Accounts/{{sid s_curl}}/Messages.json \
  --data-urlencode "Body=Hi" \
  -u {{sid s_curl}}:{{token t_curl}}
