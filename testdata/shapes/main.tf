provider "twilio" {
  account_sid = "{{sid s_tf}}"
  auth_token  = "{{token t_tf}}"
}

provider "newrelic" {
  account_id = 3141592
  api_key    = "{{hex32}}"
  region     = "US"
}
