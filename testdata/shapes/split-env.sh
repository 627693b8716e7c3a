#!/bin/sh
export TWILIO_ACCOUNT_SID="{{sid s_sh}}"
export TWILIO_AUTH_TOKEN="{{part token:t_sh 0 16}}"'{{part t_sh 16 32}}'
