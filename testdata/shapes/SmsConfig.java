public final class SmsConfig {
    static final String ACCOUNT_SID = "{{sid s_java}}";
    static final String AUTH_TOKEN = "{{part token:t_java 0 10}}" +
        "{{part t_java 10 20}}" +
        "{{part t_java 20 32}}";
}
