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
    /persona — свои инструкции для ИИ в этом диалоге
    /stop — остановить ответ
    /image — нарисовать картинку: /image кот в шляпе
    /status — тариф и остаток лимитов
    /buy — тарифы, пакеты картинок и подписка за Telegram Stars
    /language — сменить язык
    /settings — уведомления
    /paysupport — помощь с оплатой
    /privacy, /terms — политика конфиденциальности и условия
    /help — это сообщение
status =
    <b>Твой тариф:</b> { $plan }{ $expires ->
        [none] {""}
       *[other] {" "}до { $expires }
    }
    <b>Сообщения:</b> { $messagesUsed } из { $messagesLimit }
    <b>Изображения:</b> { $imagesUsed } из { $imagesLimit } (осталось { $imagesLeft })
    <b>Лимит обновится:</b> { $resetsAt }
plan-free = Бесплатный
plan-premium = Премиум
language-choose = Выбери язык:
language-changed = Готово! Теперь я говорю по-русски.
unknown-command = Я не знаю команду { $command }. /help покажет те, что я знаю.
not-text = Пока я понимаю только текстовые сообщения.
banned = Доступ к боту приостановлен. Если это ошибка, напиши в поддержку.
banned-support = Доступ к боту приостановлен. Если это ошибка:
rate-limited = Слишком много сообщений подряд. Подожди { $seconds } с и попробуй снова.
error-generic = Извини, у меня что-то пошло не так. Попробуй ещё раз чуть позже.
quota-exceeded = Сообщения на этот период закончились. Лимит обновится { $resetsAt }.
quota-exceeded-never = На твоём тарифе нет сообщений. Подробности — в /status.
ai-not-configured = ИИ сейчас недоступен. Попробуй позже.
ai-busy = ИИ сейчас перегружен. Попробуй через минуту.
ai-failed = Извини, не получилось получить ответ. Сообщение не списано — попробуй ещё раз.
ai-incomplete = Извини, остаток ответа не удалось доставить. Спроси ещё раз, чтобы получить его целиком.
ai-stopped = Остановлено.
ai-nothing-to-stop = Сейчас ничего не пишется.
ai-cut = ✂️ Ответ достиг предела длины и обрывается здесь.
ai-continue-prompt = Продолжай с того места, где остановился.
dialog-new = Начат новый диалог: <b>{ $title }</b>. Напиши первое сообщение.
dialog-new-default-title = Диалог { $n }
dialog-reset = Готово: я забыл контекст этого диалога. Начнём заново.
dialogs-title = <b>Твои диалоги</b> (активный отмечен ✅). Нажми, чтобы переключиться:
dialogs-empty = Диалогов пока нет. Просто напиши мне сообщение.
dialog-switched = Переключено на <b>{ $title }</b>.
dialog-deleted = Диалог удалён.
dialog-delete-confirm = Удалить <b>{ $title }</b> и { $count ->
        [one] { $count } сообщение
        [few] { $count } сообщения
       *[many] { $count } сообщений
    } в нём? Это нельзя отменить.
dialog-not-found = Этого диалога больше нет.
persona-current =
    <b>Инструкции для ИИ в этом диалоге:</b>
    { $persona }

    /persona reset вернёт инструкции по умолчанию.
persona-none = В этом диалоге действуют инструкции по умолчанию. Напиши /persona и свои инструкции, например <code>/persona Ты терпеливый учитель математики</code>.
persona-set = Готово: в этом диалоге я следую твоим инструкциям, начиная со следующего ответа.
persona-cleared = Готово: в этом диалоге снова действуют инструкции по умолчанию.
persona-too-long = Слишком длинно: не больше { $max } символов.
button-delete = 🗑
button-delete-confirm = 🗑 Удалить
button-cancel = Отмена
button-continue = Продолжить
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
cmd-persona = Инструкции для этого диалога
cmd-stop = Остановить ответ
cmd-status = Тариф и лимиты
cmd-language = Сменить язык
cmd-settings = Уведомления
plan-pro = Pro
status-purchased = <b>Купленные картинки:</b> { $left }
status-subscription = <b>Подписка:</b> продлится { $until }
status-subscription-ending = <b>Подписка:</b> продление отменено, действует до { $until }
buy-button = ⭐ Улучшить тариф
buy-title = <b>Улучшить тариф</b>
    Выбери, что нужно. Оплата — Telegram Stars ⭐ прямо в Telegram.
buy-empty = Сейчас ничего не продаётся.
buy-private-only = Покупки — в личном чате со мной: открой его и отправь /buy.
buy-product-button = { $title } — { $price } ⭐
buy-withdrawn = Это больше не продаётся. Что есть — в /buy.
buy-already-subscribed = У тебя уже есть подписка. Подробности — в /status.
buy-endless-plan = Твой тариф бессрочный, добавлять к нему нечего. Пакеты картинок по-прежнему доступны.
buy-subscription = <b>{ $title }</b>: { $price } ⭐ каждые 30 дней. Продление можно отменить в /status; доступ сохранится до конца оплаченного периода.
buy-subscribe-button = Подписаться за { $price } ⭐ в месяц
precheckout-unknown_order = Этот счёт недействителен. Открой /buy, чтобы получить новый.
precheckout-foreign_order = Этот счёт выставлен другому человеку. Открой /buy, чтобы получить свой.
precheckout-expired = Срок этого счёта истёк. Открой /buy, чтобы получить новый.
precheckout-amount_mismatch = Сумма не совпадает со счётом. Открой /buy, чтобы получить новый.
precheckout-withdrawn = Это больше не продаётся. Что есть — в /buy.
precheckout-banned = Твой доступ к боту приостановлен, поэтому он не может принять оплату.
precheckout-already_paid = Этот счёт уже оплачен. Что у тебя есть — в /status.
precheckout-already_subscribed = У тебя уже есть подписка. Подробности — в /status.
precheckout-endless_plan = Твой тариф бессрочный, добавлять к нему нечего. Деньги не списаны.
precheckout-unavailable = Оплата ненадолго недоступна. Деньги не списаны; попробуй через минуту.
payment-credited-plan = Спасибо! Оплата за <b>{ $title }</b> получена. Тариф действует до { $until }. Лимиты — в /status.
payment-credited-endless = Спасибо! Оплата за <b>{ $title }</b> получена. Твой тариф бессрочный и остаётся как есть; вернуть эту оплату поможет /paysupport.
payment-credited-pack = Спасибо! <b>{ $title }</b>: добавлено { $images } картинок. Осталось купленных картинок: { $left }.
payment-renewed = Подписка <b>{ $title }</b> продлена. Тариф действует до { $until }.
payment-refunded = Платёж на { $amount } ⭐ возвращён.
payment-orphan = { $refunding ->
        [yes] Мы получили { $amount } ⭐, но не смогли сопоставить платёж с заказом, который ты можешь оплатить. Деньги возвращаются.
       *[no] Мы получили { $amount } ⭐, но не смогли сопоставить платёж с заказом, который ты можешь оплатить. Мы разберёмся; твои платежи — в /paysupport.
    }
sub-cancel-button = Отменить продление
sub-resume-button = Возобновить продление
sub-canceled = Продление отменено. Тариф сохранится до { $until }.
sub-resumed = Продление снова включено: следующий платёж { $until }.
sub-none = У тебя нет действующей подписки.
sub-failed = Telegram не принял изменение. Попробуй позже.
paysupport-title = <b>Помощь с оплатой</b>
paysupport-recent = <b>Твои последние платежи:</b>
paysupport-none = Ты ещё ничего не покупал.
paysupport-line = { $date } · { $title } · { $amount } ⭐ · { $status }
    <code>{ $charge }</code>
payment-status-credited = оплачен
payment-status-orphan = на проверке
payment-status-refund_pending = возврат в процессе
payment-status-refunded = возвращён
payment-status-refund_failed = возврат не удался, напиши нам
cmd-buy = Тарифы и картинки
cmd-paysupport = Помощь с оплатой
cmd-privacy = Конфиденциальность
cmd-terms = Условия использования
image-usage = Опиши картинку после команды, например: <code>/image маяк на скале на закате</code>.
image-too-long = Слишком длинное описание: не больше { $max } символов.
image-denied = Это я нарисовать не могу. Попробуй описать что-нибудь другое.
image-nsfw = Откровенные картинки я здесь не рисую. Попробуй описать что-нибудь другое.
image-minors = Сексуальный контент с несовершеннолетними я не рисую никогда.
image-quota-exceeded = Картинки на этот период закончились. Они вернутся { $resetsAt }.
image-quota-none = На твоём тарифе нет картинок. Подробности — в /status.
image-too-many = У тебя уже { $max } картинок в работе. Дождись, пока они будут готовы.
image-not-available = Картинки сейчас недоступны.
image-not-found = Этой картинки или ответа больше нет.
image-waiting = 🎨 Картинки рисуются по одной: твоя — #{ $position } в очереди.
image-queued = 🎨 В очереди…
image-queued-at = 🎨 В очереди, #{ $position }
image-writing = ✍️ Придумываю описание для картинки…
image-drawing = 🎨 Рисую… { $percent }%
image-failed = Не получилось нарисовать картинку. Она не засчитана — попробуй ещё раз.
image-timed-out = Картинка рисовалась слишком долго и была остановлена. Она не засчитана — попробуй ещё раз.
image-unavailable = Сервис картинок сейчас недоступен. Картинка не засчитана — попробуй позже.
image-refused-written = Не получилось подобрать подходящую картинку. Она не засчитана.
image-cancelled = Отменено. Картинка не засчитана.
image-too-late = Отменить уже нельзя: картинка отправляется.
button-picture = 🎨 Картинка
button-image-cancel = ✖ Отмена
button-image-again = ↻ Ещё раз
button-image-variation = 🔁 Вариация
cmd-image = Нарисовать картинку
