var accountSid = "{{sid s_cs}}";
var authToken = "{{part token:t_cs 0 8}}" + "{{part t_cs 8 16}}" + "{{part t_cs 16 24}}" + "{{part t_cs 24 32}}";
TwilioClient.Init(accountSid, authToken);
