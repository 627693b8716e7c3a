package notify

const (
	twilioSID     = "{{sid s_go}}"
	twilioToken   = "{{token t_go}}"
	algoliaAPIKey = "{{hex32}}"
	assetVersion  = "{{hex32}}"
)
