import twilio from 'twilio';

export const client = twilio('{{keysid k_ts}}', '{{keysecret x_ts}}', { accountSid: process.env.TWILIO_ACCOUNT_SID });
