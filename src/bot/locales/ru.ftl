welcome =
    Привет, { $name }! Я <b>Vitte</b>, ИИ-ассистент.

    Просто напиши мне сообщение, и я отвечу. У тебя <b>бесплатный тариф</b>: { $messages } сообщений за период.
    /help покажет всё, что я умею.
help =
    <b>Что я умею</b>

    Напиши любое сообщение, и я отвечу, помня наш диалог.

    /start — начать сначала
    /new — новый диалог
    /dialogs — твои диалоги: переключить или удалить
    /reset — забыть контекст этого диалога
    /stop — остановить ответ
    /status — тариф и остаток лимитов
    /language — сменить язык
    /settings — уведомления
    /help — это сообщение
status =
    <b>Твой тариф:</b> { $plan }{ $expires ->
        [none] {""}
       *[other] {" "}до { $expires }
    }
    <b>Сообщения:</b> { $messagesUsed } из { $messagesLimit }
    <b>Изображения:</b> { $imagesUsed } из { $imagesLimit }
    <b>Лимит обновится:</b> { $resetsAt }
plan-free = Бесплатный
plan-premium = Премиум
language-choose = Выбери язык:
language-changed = Готово! Теперь я говорю по-русски.
unknown-command = Я не знаю команду { $command }. /help покажет те, что я знаю.
not-text = Пока я понимаю только текстовые сообщения.
banned = Доступ к боту приостановлен. Если это ошибка, напиши в поддержку.
rate-limited = Слишком много сообщений подряд. Подожди { $seconds } с и попробуй снова.
error-generic = Извини, у меня что-то пошло не так. Попробуй ещё раз чуть позже.
quota-exceeded = Сообщения на этот период закончились. Лимит обновится { $resetsAt }.
quota-exceeded-never = На твоём тарифе нет сообщений. Подробности — в /status.
ai-not-configured = ИИ ещё не настроен. Оператору нужно указать LLM_BASE_URL (см. README).
ai-busy = ИИ сейчас перегружен. Попробуй через минуту.
ai-failed = Извини, не получилось получить ответ. Сообщение не списано — попробуй ещё раз.
ai-stopped = Остановлено.
ai-nothing-to-stop = Сейчас ничего не пишется.
ai-thinking = Думаю…
dialog-new = Начат новый диалог: <b>{ $title }</b>. Напиши первое сообщение.
dialog-new-default-title = Диалог { $n }
dialog-reset = Готово: я забыл контекст этого диалога. Начнём заново.
dialogs-title = <b>Твои диалоги</b> (активный отмечен ✅). Нажми, чтобы переключиться:
dialogs-empty = Диалогов пока нет. Просто напиши мне сообщение.
dialog-switched = Переключено на <b>{ $title }</b>.
dialog-deleted = Диалог удалён.
dialog-not-found = Этого диалога больше нет.
button-delete = 🗑
settings-title = <b>Настройки</b>
settings-notifications-on = 🔔 Напоминания и новости: вкл
settings-notifications-off = 🔕 Напоминания и новости: выкл
settings-saved = Сохранено.
subscription-expired = Тариф <b>{ $plan }</b> закончился, ты снова на бесплатном. Лимиты — в /status.
cmd-start = Начать сначала
cmd-help = Что я умею
cmd-new = Новый диалог
cmd-dialogs = Твои диалоги
cmd-reset = Забыть контекст диалога
cmd-stop = Остановить ответ
cmd-status = Тариф и лимиты
cmd-language = Сменить язык
cmd-settings = Уведомления
