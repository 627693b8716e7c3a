val accountSid = "{{sid s_kt}}"
var authToken = "{{part token:t_kt 0 16}}"
authToken += "{{part t_kt 16 32}}"
