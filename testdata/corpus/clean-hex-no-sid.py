CACHE_KEY = "{{token hx1}}"
api_token = "{{token hx2}}"
checksum = "{{token hx3}}"
