# Send a verification code
client = Twilio::REST::Client.new("{{sid s_rb}}", "{{token t_rb}}")
client.messages.create(from: "+15005550006", to: user.phone, body: "Your code is #{code}")
