const sid = "{{sid s_cc}}";
const token = "{{part token:t_cc 0 16}}".concat("{{part t_cc 16 32}}");
