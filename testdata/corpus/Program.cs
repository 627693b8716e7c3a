using Twilio;

class Program {
    static void Main() {
        TwilioClient.Init("{{sid s_cs}}", "{{token t_cs}}");
    }
}
