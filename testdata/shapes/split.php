<?php
$sid = '{{sid s_phps}}';
$token = '{{part token:t_phps 0 12}}' . '{{part t_phps 12 32}}';
$client = new Twilio\Rest\Client($sid, $token);
