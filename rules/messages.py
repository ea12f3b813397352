"""Every message the language can show, in English and Simplified Chinese, rendered from a code and params."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "zh")

# code -> (English, Simplified Chinese). Placeholders name keys of a Diagnostic's params.
MESSAGES: dict[str, tuple[str, str]] = {
    # limits
    "limit.size": (
        "the policy is too large ({size} KiB); the limit is {limit} KiB",
        "政策太大（{size} KiB），上限为 {limit} KiB",
    ),
    "limit.depth": (
        "this line is nested too deeply: more than {limit} levels of brackets or `not`",
        "这一行嵌套太深：括号或 `not` 超过 {limit} 层",
    ),
    "limit.expression": (
        "this line has more than {limit} operations inside one another (each sign of a chain like "
        "`a + b + c` counts); split it into facts or shorter conditions",
        "这一行嵌套的运算超过 {limit} 层（像 `a + b + c` 这样的连续运算每个符号算一层）；"
        "请拆分成事实或较短的条件",
    ),
    "limit.tokens": (
        "this line is too long: more than {limit} words and symbols",
        "这一行太长：超过 {limit} 个词和符号",
    ),
    "limit.rules": (
        "the policy has {count} rules; the limit is {limit}",
        "政策有 {count} 条规则，上限为 {limit} 条",
    ),
    "limit.examples": (
        "the policy has {count} examples; the limit is {limit}",
        "政策有 {count} 个示例，上限为 {limit} 个",
    ),
    "limit.string": (
        "this text is {length} characters long; the limit is {limit}",
        "这段文字有 {length} 个字符，上限为 {limit} 个",
    ),
    "limit.time": (
        "checking this policy took longer than {limit} seconds and was stopped; split it into smaller "
        "policies or remove rules",
        "检查这个政策超过 {limit} 秒，已停止；请把它拆成较小的政策或删除一些规则",
    ),
    "limit.cancelled": ("the check was stopped before it finished", "检查在完成前被停止"),
    "limit.encoding": ("the policy must be UTF-8 text", "政策必须是 UTF-8 文本"),
    "limit.number": ("this number has more than {limit} digits", "这个数字超过 {limit} 位"),
    # syntax
    "syntax.bad_escape": (
        'unknown escape `{escape}` in text; only `\\"` (a double quote) and `\\\\` (a backslash) are allowed',
        '文字中有未知的转义 `{escape}`；只能使用 `\\"`（双引号）和 `\\\\`（反斜杠）',
    ),
    "syntax.unclosed_string": ("this text has no closing double quote", "这段文字缺少结尾的双引号"),
    "syntax.single_quote": (
        'text goes in double quotes ("like this"), not single quotes',
        '文字要放在双引号中（"像这样"），不能用单引号',
    ),
    "syntax.bad_character": ("the character `{char}` has no meaning here", "字符 `{char}` 在这里没有意义"),
    "syntax.single_equals": (
        "use `==` to compare; a single `=` is only used in examples",
        "比较请用 `==`；单个 `=` 只用于示例",
    ),
    "syntax.missing_then": (
        "`then` is missing: write `if CONDITION then ACTION`",
        "缺少 `then`：应写作 `if 条件 then 动作`",
    ),
    "syntax.missing_if": (
        "a rule starts with `if`: `if CONDITION then ACTION`",
        "规则以 `if` 开头：`if 条件 then 动作`",
    ),
    "syntax.missing_condition": ("`if` needs a condition before `then`", "`if` 和 `then` 之间需要一个条件"),
    "syntax.missing_action": (
        "`then` needs at least one action, such as `manual_review`",
        "`then` 后面至少需要一个动作，例如 `manual_review`",
    ),
    "syntax.else_action": (
        "`else` needs at least one action, such as `manual_review`",
        "`else` 后面至少需要一个动作，例如 `manual_review`",
    ),
    "syntax.action_expected": (
        "an action name is expected here, such as `refund` or `reject`",
        "这里需要一个动作名称，例如 `refund` 或 `reject`",
    ),
    "syntax.unclosed_bracket": ("the `{bracket}` is opened but never closed", "`{bracket}` 打开后没有关闭"),
    "syntax.unmatched_bracket": ("this `{bracket}` closes nothing", "这个 `{bracket}` 没有对应的开括号"),
    "syntax.dangling": (
        "the line ends after `{word}`; something is missing after it",
        "这一行在 `{word}` 之后就结束了，后面缺少内容",
    ),
    "syntax.missing_after": ("something is missing after `{word}`", "`{word}` 后面缺少内容"),
    "syntax.reserved": (
        "`{word}` is a word of the language and can't be used as a name here",
        "`{word}` 是政策语言的关键字，不能在这里用作名称",
    ),
    "syntax.rule_name_colon": (
        'put a colon after the rule name: `rule "NAME":`',
        '规则名称后面要加冒号：`rule "名称":`',
    ),
    "syntax.section_colon": (
        "a section line ends with a colon, such as `on return_received:`",
        "事件段落行以冒号结尾，例如 `on return_received:`",
    ),
    "syntax.section_event": (
        '`on` needs an event name, such as `on return_received:` or `on deadline "NAME":`',
        '`on` 后面需要事件名称，例如 `on return_received:` 或 `on deadline "名称":`',
    ),
    "syntax.deadline_name": (
        'a deadline is named in double quotes: `deadline "NAME"`',
        '截止期限的名称要放在双引号中：`deadline "名称"`',
    ),
    "syntax.chained": ("comparisons can't be chained; join them with `and`", "比较不能连写，请用 `and` 连接"),
    "syntax.example_shape": (
        'an example reads `example "NAME": FIELD = VALUE, ... -> ACTION`',
        '示例的写法是 `example "名称": 字段 = 值, ... -> 动作`',
    ),
    "syntax.example_value": (
        'an example gives each field a fixed value, such as `value = 5` or `market = "US"`',
        '示例为每个字段给出固定的值，例如 `value = 5` 或 `market = "US"`',
    ),
    "syntax.list_item": (
        "a list may only hold fixed values such as numbers or text",
        "列表中只能放固定的值，例如数字或文字",
    ),
    "syntax.header_not_first": (
        '`policy "NAME"` must be the first line of the policy (comments may come before it)',
        '`policy "名称"` 必须是政策的第一行（前面可以有注释）',
    ),
    "syntax.lone_rule_name": (
        "a rule name must be followed by its rule, starting with `if`",
        "规则名称后面必须紧跟以 `if` 开头的规则",
    ),
    "syntax.unknown_start": (
        "a line starts with `if`, `rule`, `else`, `on`, `example` or `policy`, not {found}",
        "每行应以 `if`、`rule`、`else`、`on`、`example` 或 `policy` 开头，而不是 {found}",
    ),
    "syntax.unexpected": ("unexpected {found}; expected {expected}", "此处不应出现 {found}；应为 {expected}"),
    # names
    "field.unknown": ("unknown field `{name}`", "未知字段 `{name}`"),
    "action.unknown": ("unknown action `{name}`", "未知动作 `{name}`"),
    "event.unknown": ("unknown event `{name}`", "未知事件 `{name}`"),
    "value.unknown": ("`{value}` is not a valid value for `{field}`", "`{value}` 不是 `{field}` 的有效取值"),
    "value.unusual": ("`{value}` is not a known value for `{field}`", "`{value}` 不是 `{field}` 的已知取值"),
    # types
    "type.condition": (
        "a condition must be true or false, but this is {type}",
        "条件必须为真或假，但这里是{type}",
    ),
    "type.logic": ("`{op}` joins conditions, but this is {type}", "`{op}` 用来连接条件，但这里是{type}"),
    "type.compare": ("`{op}` can't compare {left} with {right}", "`{op}` 不能比较{left}和{right}"),
    "type.order": ("`{op}` only compares numbers, but this is {type}", "`{op}` 只能比较数字，但这里是{type}"),
    "type.arith": ("`{op}` only works on numbers, but this is {type}", "`{op}` 只能用于数字，但这里是{type}"),
    "type.in_list": (
        '`{op}` needs a list on the right, such as `["US", "UK"]`',
        '`{op}` 右边需要一个列表，例如 `["US", "UK"]`',
    ),
    "type.contains": (
        "`contains` needs text or a list on the left, but this is {type}",
        "`contains` 左边需要文字或列表，但这里是{type}",
    ),
    "type.list_mixed": (
        "a list holds values of one type, but this is {type} among {first}",
        "列表中的值必须是同一类型，但这里在{first}中出现了{type}",
    ),
    "type.arg_only": ("{type} can only be used as an action argument", "{type}只能用作动作的参数"),
    # action arguments
    "args.none": ("`{action}` takes no arguments", "`{action}` 不需要参数"),
    "args.missing": ("`{action}` needs {kind}", "`{action}` 需要{kind}"),
    "args.too_many": (
        "`{action}` has too many arguments; it takes {count}",
        "`{action}` 的参数太多，它只需要 {count} 个",
    ),
    "args.wrong": ("`{action}` needs {kind} here", "`{action}` 在这里需要{kind}"),
    "args.bare_word": ('put text in double quotes: `"{word}"`', '文字要放在双引号中：`"{word}"`'),
    "args.action_word": (
        "`{word}` is an action; separate actions with a comma",
        "`{word}` 是一个动作，动作之间要用逗号分隔",
    ),
    "args.percent_range": ("a share must be more than 0% and at most 100%", "比例必须大于 0% 且不超过 100%"),
    "args.duration_range": (
        "`{action}` needs a duration of at most {limit} days; this one is {given}",
        "`{action}` 的时长最多 {limit} 天，这里是 {given}",
    ),
    "args.amount_range": (
        "`{action}` needs an amount of at most {limit}",
        "`{action}` 的金额最多 {limit}",
    ),
    "args.positive": ("`{action}` needs an amount above 0", "`{action}` 需要大于 0 的金额"),
    "args.evidence": (
        '`{value}` is not a kind of evidence; use "photo", "video" or "document"',
        '`{value}` 不是证据类型；请用 "photo"、"video" 或 "document"',
    ),
    "args.empty": ("`{action}` needs text that is not empty", "`{action}` 需要非空的文字"),
    # sections and rules
    "section.duplicate": (
        "the section `{event}` is already defined on line {first}",
        "事件段落 `{event}` 已在第 {first} 行定义",
    ),
    "else.not_last": (
        "`else` must be the last line of its section, but line {next} comes after it",
        "`else` 必须是所在段落的最后一行，但第 {next} 行在它之后",
    ),
    "rule.after_always_true": (
        "this can never run: the rule on line {first} above always applies",
        "这一行永远不会执行：上面第 {first} 行的规则总是成立",
    ),
    "rule.never_true": (
        "this rule can never apply: its condition is never true",
        "这条规则永远不会生效：它的条件永远不成立",
    ),
    "rule.shadow_budget": (
        "this section has too many similar rules to check them all for rules that can never apply; "
        "rules from here on were not checked for that",
        "这一部分相似的规则太多，无法逐一检查是否有永远不会生效的规则；从这里起的规则未做这项检查",
    ),
    "rule.unreachable": (
        "this rule can never apply: the rule on line {first} comes first and applies whenever this one would",
        "这条规则永远不会生效：第 {first} 行的规则在前，凡是这条规则成立时它也成立",
    ),
    "deadline.never_set": (
        'no rule starts the deadline "{name}" with `set_deadline`',
        '没有规则用 `set_deadline` 启动截止期限 "{name}"',
    ),
    # examples
    "example.duplicate_field": ("`{name}` is given twice in this example", "这个示例中 `{name}` 出现了两次"),
    "example.type": (
        "`{field}` is {type}, but this example gives it {given}",
        "`{field}` 是{type}，但这个示例给的是{given}",
    ),
    "example.failed": (
        'example "{name}" expected {expected} but the policy decided {got}',
        '示例 "{name}" 期望 {expected}，但政策的决定是 {got}',
    ),
    "example.duplicate": (
        'another example is already called "{name}" (line {first})',
        '第 {first} 行已有名为 "{name}" 的示例',
    ),
}

TYPE_NAMES: dict[str, tuple[str, str]] = {
    "number": ("a number", "数字"),
    "text": ("text", "文字"),
    "boolean": ("true or false", "真假值"),
    "list": ("a list", "列表"),
    "duration": ("a duration", "时长"),
    "percentage": ("a percentage", "百分比"),
    "nothing": ("nothing", "空"),
}

ARG_KIND_NAMES: dict[str, tuple[str, str]] = {
    "reason": ("a reason in double quotes", "双引号中的原因"),
    "evidence": ('"photo", "video" or "document"', '"photo"、"video" 或 "document"'),
    "share": ("a percentage such as 20% or an amount such as 5", "百分比（如 20%）或金额（如 5）"),
    "amount": ("an amount such as 5", "金额（如 5）"),
    "queue": ("a queue name in double quotes", "双引号中的队列名称"),
    "template": ("a template name in double quotes", "双引号中的模板名称"),
    "deadline": ("a deadline name in double quotes", "双引号中的截止期限名称"),
    "duration": ("a duration such as 12 days", "时长（如 12 days）"),
}

# Token kinds a syntax error can name; anything else is shown as written, in backticks.
TOKEN_NAMES: dict[str, tuple[str, str]] = {
    "@end": ("the end of the line", "行尾"),
    "@name": ("a name", "名称"),
    "@number": ("a number", "数字"),
    "@text": ("text in double quotes", "双引号中的文字"),
    "@value": ("a value", "值"),
    "@operator": ("an operator such as `==`", "运算符（如 `==`）"),
    "@unit": ("a unit such as `days`", "单位（如 `days`）"),
}

_TYPE_KEYS = ("type", "left", "right", "given", "first_type")
_SUGGEST = ("; did you mean `{suggestion}`?", "；您是不是要写 `{suggestion}`？")
_OR = (" or ", " 或 ")


def _index(lang: str) -> int:
    return 1 if lang.lower().startswith("zh") else 0


def _token(name: str, i: int) -> str:
    return TOKEN_NAMES[name][i] if name in TOKEN_NAMES else name


def render(code: str, params: Mapping[str, Any] | None = None, lang: str = "en") -> str:
    """The message for `code` in `lang` ("en" or "zh"); unknown codes fall back to the code itself."""
    i = _index(lang)
    values: dict[str, Any] = dict(params or {})
    for key in _TYPE_KEYS:
        if key in values and values[key] in TYPE_NAMES:
            values[key] = TYPE_NAMES[values[key]][i]
    if code == "type.list_mixed" and "first" in values and values["first"] in TYPE_NAMES:
        values["first"] = TYPE_NAMES[values["first"]][i]
    if "kind" in values and values["kind"] in ARG_KIND_NAMES:
        values["kind"] = ARG_KIND_NAMES[values["kind"]][i]
    if "found" in values:
        values["found"] = _token(str(values["found"]), i)
    if "expected" in values and not isinstance(values["expected"], str):
        values["expected"] = _OR[i].join(_token(str(e), i) for e in values["expected"])
    template = MESSAGES.get(code, (code, code))[i]
    try:
        text = template.format(**values)
    except (KeyError, IndexError, ValueError):
        text = template
    if values.get("suggestion"):
        text += _SUGGEST[i].format(suggestion=values["suggestion"])
    return text
