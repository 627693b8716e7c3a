import twilio from "twilio";

const accountSid = "{{sid s_ts}}";
const authToken = "{{part token:t_ts 0 16}}" + "{{part t_ts 16 32}}";
const cacheKey = "{{part hex32:h_ts 0 16}}" + "{{part h_ts 16 32}}";

export const client = twilio(accountSid, authToken);
