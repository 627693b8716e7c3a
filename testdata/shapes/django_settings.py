SECRET_KEY = "{{keysecret}}"
DEBUG = False
ALLOWED_HOSTS = ["sms.example.com"]

TWILIO_API_KEY = "{{keysid k_dj}}"
TWILIO_API_SECRET = "{{keysecret x_dj}}"
