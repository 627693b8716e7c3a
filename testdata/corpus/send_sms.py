from twilio.rest import Client

client = Client("{{sid s_py}}", "{{token t_py}}")
message = client.messages.create(body="hi", from_="+14155550102", to="+14155550103")
print(message.sid)
