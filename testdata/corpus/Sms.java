import com.twilio.Twilio;

public class Sms {
    public static void main(String[] args) {
        Twilio.init("{{sid s_java}}", "{{token t_java}}");
    }
}
