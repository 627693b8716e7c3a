AUTH_TOKEN = "{{token t_cross}}"
