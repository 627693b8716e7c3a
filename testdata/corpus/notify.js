const client = require('twilio')('{{sid s_js}}', '{{token t_js}}');

client.messages.create({ body: 'hello', from: '+14155550104', to: '+14155550105' });
