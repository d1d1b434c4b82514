// Text of the desktop in Chinese (the default) and English. Every key is in
// both tables (the type says so, and i18n.test.ts checks it at run time
// along with the {placeholders}).

const zh = {
  'app.title': 'ccd 坐席工作台',
  'lang.switch': 'English',
  'lang.switch.title': '切换语言',

  'login.title': '坐席登录',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.busy': '正在登录…',
  'login.wrong': '用户名或密码错误',
  'login.throttled': '失败次数过多，请 {s} 秒后再试',
  'login.unreachable': '无法连接服务器',

  'header.logout': '退出',
  'header.no_agent': '此账号没有坐席工号，无法接听电话',
  'header.agent': '工号 {id}',

  'conn.connecting': '正在连接…',
  'conn.open': '已连接',
  'conn.reconnecting': '连接中断，正在重连…',

  'state.title': '坐席状态',
  'state.logged_out': '未签入',
  'state.available': '空闲',
  'state.reserved': '振铃',
  'state.on_call': '通话中',
  'state.wrap_up': '话后处理',
  'state.paused': '小休',
  'state.unknown': '未知',
  'state.since': '已持续 {d}',
  'state.reason': '原因：{r}',
  'state.wrap_until': '话后处理至 {t}',
  'state.login': '签入',
  'state.ready': '就绪',
  'state.pause': '小休',
  'state.pause_reason': '小休原因',
  'state.logout': '签出',

  'call.title': '当前来电',
  'call.none': '暂无来电',
  'call.offered': '来电振铃',
  'call.talking': '通话中',
  'call.held': '已保持',
  'call.caller': '主叫号码',
  'call.did': '被叫号码',
  'call.queue': '队列',
  'call.waited': '排队时长',
  'call.answer': '接听',
  'call.decline': '拒接',
  'call.hangup': '挂断',
  'call.hold': '保持',
  'call.resume': '恢复',
  'call.transfer': '转接',
  'call.conference': '会议',
  'call.target_kind': '目标',
  'call.target': '号码/工号/队列',
  'call.kind.agent': '坐席',
  'call.kind.queue': '队列',
  'call.kind.duty_manager': '值班经理',
  'call.kind.external': '外线号码',
  'call.transferred': '已转接',
  'call.conferenced': '已加入会议',
  'call.ended.missed': '来电未接听，已转给其他坐席',
  'call.ended.no_answer': '来电未接听，已转给其他坐席',
  'call.ended.rejected': '已拒接来电',
  'call.ended.abandoned': '来电者已挂机',
  'call.ended.ended': '通话已结束',

  'pop.title': '来电弹屏',
  'pop.customer': '客户',
  'pop.level': '客户级别',
  'pop.company': '公司',
  'pop.notes': '备注',
  'pop.other_matches': '另有 {n} 个客户使用此号码',
  'pop.new_caller': '新来电者',
  'pop.new_caller_hint': '未找到客户资料，请录入：',
  'pop.ivr': '自助语音',
  'pop.ivr_path': '菜单路径',
  'pop.ivr_language': '语言',
  'pop.trace_code': '追溯码',
  'pop.trace_result': '查询结果',
  'pop.history': '最近来电',
  'pop.history_none': '无历史记录',
  'pop.none': '等待弹屏信息…',

  'level.potential': '潜在客户',
  'level.individual': '个人客户',
  'level.company': '企业客户',
  'level.vip': 'VIP 客户',

  'language.zh': '中文',
  'language.en': '英文',

  'customer.name': '姓名',
  'customer.level': '级别',
  'customer.company': '公司',
  'customer.notes': '备注',
  'customer.save': '保存客户',
  'customer.saved': '客户资料已保存',

  'wrapup.title': '话后处理',
  'wrapup.call': '来电 {caller}',
  'wrapup.disposition': '处理结果',
  'wrapup.choose': '请选择…',
  'wrapup.notes': '备注',
  'wrapup.submit': '提交',
  'wrapup.saved': '话后处理已保存',

  'disposition.resolved': '已解决',
  'disposition.trace_answered': '追溯查询已答复',
  'disposition.callback_needed': '需要回电',
  'disposition.complaint': '投诉',
  'disposition.work_order': '已建工单',
  'disposition.transferred': '已转接',
  'disposition.wrong_number': '打错电话',
  'disposition.other': '其他',

  'history.title': '我的通话记录',
  'history.time': '时间',
  'history.caller': '主叫',
  'history.outcome': '结果',
  'history.disposition': '处理结果',
  'history.agent': '坐席',
  'history.notes': '备注',
  'history.none': '暂无记录',
  'history.refresh': '刷新',

  'outcome.completed': '已完成',
  'outcome.answered': '已接听',
  'outcome.abandoned': '放弃',
  'outcome.no_answer': '未接听',
  'outcome.failed': '失败',

  'phone.title': '软电话',
  'phone.off': '未配置软电话',
  'phone.connecting': '正在注册…',
  'phone.registered': '已注册',
  'phone.unregistered': '未注册',
  'phone.failed': '注册失败：{e}',
  'phone.insecure': '麦克风需要安全连接：请用 https 或 http://127.0.0.1 打开本页',
  'phone.ringing': '软电话振铃：{from}',
  'phone.in_call': '软电话通话中',
  'phone.mute': '静音',
  'phone.unmute': '取消静音',
  'phone.muted': '已静音',

  'keys.title': '快捷键',
  'keys.answer': '接听',
  'keys.hangup': '挂断',

  'error.generic': '操作失败：{e}',
  'error.session': '会话已结束，请重新登录',
  'common.close': '关闭',
} as const;

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  'app.title': 'ccd agent desktop',
  'lang.switch': '中文',
  'lang.switch.title': 'Switch language',

  'login.title': 'Agent login',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.busy': 'Logging in…',
  'login.wrong': 'Wrong username or password',
  'login.throttled': 'Too many failed attempts: try again in {s} s',
  'login.unreachable': 'The server cannot be reached',

  'header.logout': 'Log out',
  'header.no_agent': 'This account has no agent seat and cannot take calls',
  'header.agent': 'Agent {id}',

  'conn.connecting': 'Connecting…',
  'conn.open': 'Connected',
  'conn.reconnecting': 'Connection lost, reconnecting…',

  'state.title': 'Agent state',
  'state.logged_out': 'Logged out',
  'state.available': 'Ready',
  'state.reserved': 'Ringing',
  'state.on_call': 'On call',
  'state.wrap_up': 'Wrap-up',
  'state.paused': 'Paused',
  'state.unknown': 'Unknown',
  'state.since': 'for {d}',
  'state.reason': 'Reason: {r}',
  'state.wrap_until': 'Wrap-up until {t}',
  'state.login': 'Log in',
  'state.ready': 'Ready',
  'state.pause': 'Pause',
  'state.pause_reason': 'Pause reason',
  'state.logout': 'Log out of queues',

  'call.title': 'Current call',
  'call.none': 'No call',
  'call.offered': 'Incoming call',
  'call.talking': 'On call',
  'call.held': 'On hold',
  'call.caller': 'Caller',
  'call.did': 'Dialled number',
  'call.queue': 'Queue',
  'call.waited': 'Waited',
  'call.answer': 'Answer',
  'call.decline': 'Decline',
  'call.hangup': 'Hang up',
  'call.hold': 'Hold',
  'call.resume': 'Resume',
  'call.transfer': 'Transfer',
  'call.conference': 'Conference',
  'call.target_kind': 'Target',
  'call.target': 'Number / agent / queue',
  'call.kind.agent': 'Agent',
  'call.kind.queue': 'Queue',
  'call.kind.duty_manager': 'Duty manager',
  'call.kind.external': 'External number',
  'call.transferred': 'Transferred',
  'call.conferenced': 'Conference started',
  'call.ended.missed': 'Call not answered: passed to another agent',
  'call.ended.no_answer': 'Call not answered: passed to another agent',
  'call.ended.rejected': 'Call declined',
  'call.ended.abandoned': 'The caller hung up',
  'call.ended.ended': 'The call ended',

  'pop.title': 'Screen pop',
  'pop.customer': 'Customer',
  'pop.level': 'Level',
  'pop.company': 'Company',
  'pop.notes': 'Notes',
  'pop.other_matches': '{n} more customers share this number',
  'pop.new_caller': 'New caller',
  'pop.new_caller_hint': 'No customer profile found: enter the details:',
  'pop.ivr': 'IVR',
  'pop.ivr_path': 'Menu path',
  'pop.ivr_language': 'Language',
  'pop.trace_code': 'Trace code',
  'pop.trace_result': 'Lookup result',
  'pop.history': 'Last calls',
  'pop.history_none': 'No earlier calls',
  'pop.none': 'Waiting for the screen pop…',

  'level.potential': 'Potential',
  'level.individual': 'Individual',
  'level.company': 'Company',
  'level.vip': 'VIP',

  'language.zh': 'Chinese',
  'language.en': 'English',

  'customer.name': 'Name',
  'customer.level': 'Level',
  'customer.company': 'Company',
  'customer.notes': 'Notes',
  'customer.save': 'Save customer',
  'customer.saved': 'Customer saved',

  'wrapup.title': 'Wrap-up',
  'wrapup.call': 'Call from {caller}',
  'wrapup.disposition': 'Disposition',
  'wrapup.choose': 'Choose…',
  'wrapup.notes': 'Notes',
  'wrapup.submit': 'Submit',
  'wrapup.saved': 'Wrap-up saved',

  'disposition.resolved': 'Resolved',
  'disposition.trace_answered': 'Trace enquiry answered',
  'disposition.callback_needed': 'Callback needed',
  'disposition.complaint': 'Complaint',
  'disposition.work_order': 'Work order created',
  'disposition.transferred': 'Transferred',
  'disposition.wrong_number': 'Wrong number',
  'disposition.other': 'Other',

  'history.title': 'My calls',
  'history.time': 'Time',
  'history.caller': 'Caller',
  'history.outcome': 'Outcome',
  'history.disposition': 'Disposition',
  'history.agent': 'Agent',
  'history.notes': 'Notes',
  'history.none': 'No calls yet',
  'history.refresh': 'Refresh',

  'outcome.completed': 'Completed',
  'outcome.answered': 'Answered',
  'outcome.abandoned': 'Abandoned',
  'outcome.no_answer': 'No answer',
  'outcome.failed': 'Failed',

  'phone.title': 'Softphone',
  'phone.off': 'No softphone configured',
  'phone.connecting': 'Registering…',
  'phone.registered': 'Registered',
  'phone.unregistered': 'Not registered',
  'phone.failed': 'Registration failed: {e}',
  'phone.insecure': 'The microphone needs a secure page: open it over https or at http://127.0.0.1',
  'phone.ringing': 'Softphone ringing: {from}',
  'phone.in_call': 'Softphone in a call',
  'phone.mute': 'Mute',
  'phone.unmute': 'Unmute',
  'phone.muted': 'Muted',

  'keys.title': 'Shortcuts',
  'keys.answer': 'answer',
  'keys.hangup': 'hang up',

  'error.generic': 'Failed: {e}',
  'error.session': 'Your session ended: log in again',
  'common.close': 'Close',
};

export type Lang = 'zh' | 'en';

export const messages: Record<Lang, Record<MessageKey, string>> = { zh, en };

export const languages: Lang[] = ['zh', 'en'];

/** Dispositions offered in the wrap-up form (codes the server accepts: ^[a-z0-9][a-z0-9_.-]{0,63}$). */
export const dispositions = [
  'resolved',
  'trace_answered',
  'callback_needed',
  'complaint',
  'work_order',
  'transferred',
  'wrong_number',
  'other',
] as const;

/** translate returns the text of key in lang with {name} placeholders filled. */
export function translate(lang: Lang, key: MessageKey, params?: Record<string, string | number>): string {
  const text = messages[lang]?.[key] ?? messages.zh[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** label translates a code with a prefix ("state", "level"...), or gives the code back when unknown. */
export function label(lang: Lang, prefix: string, code: string): string {
  if (!code) return '';
  const key = `${prefix}.${code}` as MessageKey;
  return key in messages[lang] ? messages[lang][key] : code;
}

export function isLang(v: unknown): v is Lang {
  return v === 'zh' || v === 'en';
}
