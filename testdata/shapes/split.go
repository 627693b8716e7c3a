package sms

var (
	accountSID = "{{sid s_gos}}"
	authToken  = "{{part token:t_gos 0 16}}" +
		"{{part t_gos 16 32}}"
)
