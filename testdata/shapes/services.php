<?php

return [
    'twilio' => [
        'sid' => env('TWILIO_SID', '{{sid s_php}}'),
        'token' => env('TWILIO_TOKEN', '{{token t_php}}'),
    ],
    'mailgun' => [
        'domain' => env('MAILGUN_DOMAIN'),
        'secret' => env('MAILGUN_SECRET', '{{hex32}}'),
    ],
];
