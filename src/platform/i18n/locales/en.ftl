welcome =
    Hi, { $name }! I am <b>Vitte</b>, an AI assistant.

    Just write me a message and I will answer. You are on the <b>free plan</b>: { $messages } messages per period.
    /help shows everything I can do.
help =
    <b>What I can do</b>

    Write any message and I will answer it, remembering our dialog.

    /start — start over
    /new — start a new dialog
    /dialogs — your dialogs: switch or delete
    /reset — forget the context of this dialog
    /persona — give this dialog its own instructions for the AI
    /stop — stop the answer being written
    /image — draw a picture: /image a cat in a hat
    /status — your plan and what is left
    /buy — plans, image packs and a subscription for Telegram Stars
    /language — change the language
    /settings — notifications
    /paysupport — help with a payment
    /privacy, /terms — privacy policy and terms of use
    /help — this message
status =
    <b>Your plan:</b> { $plan }{ $expires ->
        [none] {""}
       *[other] {" "}until { $expires }
    }
    <b>Messages:</b> { $messagesUsed } of { $messagesLimit }
    <b>Images:</b> { $imagesUsed } of { $imagesLimit } ({ $imagesLeft } left)
    <b>Quota resets:</b> { $resetsAt }
plan-free = Free
plan-premium = Premium
language-choose = Choose your language:
language-changed = Done! I will speak English now.
unknown-command = I don't know the command { $command }. /help lists the ones I know.
not-text = I can only read text messages for now.
banned = Your access to this bot has been suspended. If you think this is a mistake, contact support.
banned-support = Your access to this bot has been suspended. If you think this is a mistake:
rate-limited = You are sending messages too fast. Please wait { $seconds } s and try again.
error-generic = Sorry, something went wrong on my side. Please try again in a moment.
quota-exceeded = You have used all your messages for this period. The quota resets { $resetsAt }.
quota-exceeded-never = Your plan has no messages. /status shows the details.
ai-not-configured = The AI is not available right now. Please try again later.
ai-busy = The AI is busy right now. Please try again in a minute.
ai-failed = Sorry, I could not get an answer this time. Your message was not counted — please try again.
ai-incomplete = Sorry, the rest of this answer could not be delivered. Ask again to get it whole.
ai-stopped = Stopped.
ai-nothing-to-stop = Nothing is being written right now.
ai-cut = ✂️ The answer reached its length limit and stops here.
ai-continue-prompt = Continue from where you stopped.
dialog-new = New dialog started: <b>{ $title }</b>. Write your first message.
dialog-new-default-title = Dialog { $n }
dialog-reset = Done: I forgot the context of this dialog. Let's start fresh.
dialogs-title = <b>Your dialogs</b> (the active one is marked ✅). Tap to switch:
dialogs-empty = You have no dialogs yet. Just write me a message.
dialog-switched = Switched to <b>{ $title }</b>.
dialog-deleted = Dialog deleted.
dialog-delete-confirm = Delete <b>{ $title }</b> and its { $count ->
        [one] one message
       *[other] { $count } messages
    }? This cannot be undone.
dialog-not-found = That dialog no longer exists.
persona-current =
    <b>This dialog's instructions for the AI:</b>
    { $persona }

    /persona reset goes back to the default ones.
persona-none = This dialog uses the default instructions. Write /persona followed by your own, e.g. <code>/persona You are a patient maths teacher</code>.
persona-set = Done: this dialog follows your instructions from the next answer on.
persona-cleared = Done: this dialog uses the default instructions again.
persona-too-long = That is too long: at most { $max } characters.
button-delete = 🗑
button-delete-confirm = 🗑 Delete
button-cancel = Cancel
button-continue = Continue
settings-title = <b>Settings</b>
settings-notifications-on = 🔔 Reminders and news: on
settings-notifications-off = 🔕 Reminders and news: off
settings-saved = Saved.
subscription-expired = Your <b>{ $plan }</b> plan has ended; you are back on the free plan. /status shows your limits.
cmd-start = Start over
cmd-help = What I can do
cmd-new = New dialog
cmd-dialogs = Your dialogs
cmd-reset = Forget this dialog's context
cmd-persona = Instructions for this dialog
cmd-stop = Stop the answer
cmd-status = Plan and limits
cmd-language = Change language
cmd-settings = Notifications
plan-pro = Pro
status-purchased = <b>Purchased images:</b> { $left }
status-subscription = <b>Subscription:</b> renews { $until }
status-subscription-ending = <b>Subscription:</b> renewal cancelled, ends { $until }
buy-button = ⭐ Upgrade
buy-title = <b>Upgrade</b>
    Pick what you want. You pay in Telegram Stars ⭐ right here in Telegram.
buy-empty = Nothing is on sale right now.
buy-private-only = Buying works in a private chat with me: open it and send /buy.
buy-product-button = { $title } — { $price } ⭐
buy-withdrawn = This is no longer on sale. /buy shows what is.
buy-already-subscribed = You already have a subscription. /status shows it.
buy-endless-plan = Your plan has no end date, so there is no time to add. Image packs are still on sale.
buy-subscription = <b>{ $title }</b>: { $price } ⭐ every 30 days. Cancel renewal any time in /status; you keep access until the paid period ends.
buy-subscribe-button = Subscribe for { $price } ⭐ a month
precheckout-unknown_order = This invoice is not valid. Open /buy for a new one.
precheckout-foreign_order = This invoice was made for someone else. Open /buy to get your own.
precheckout-expired = This invoice has expired. Open /buy for a new one.
precheckout-amount_mismatch = The amount does not match this invoice. Open /buy for a new one.
precheckout-withdrawn = This is no longer on sale. /buy shows what is.
precheckout-banned = Your access to this bot has been suspended, so it cannot take payments from you.
precheckout-already_paid = This invoice is already paid. /status shows what you have.
precheckout-already_subscribed = You already have a subscription. /status shows it.
precheckout-endless_plan = Your plan has no end date, so there is no time to add. Nothing was charged.
precheckout-unavailable = Payments are briefly unavailable. Nothing was charged; please try again in a minute.
payment-credited-plan = Thank you! Payment received for <b>{ $title }</b>. Your plan runs until { $until }. /status shows your limits.
payment-credited-endless = Thank you! Payment received for <b>{ $title }</b>. Your plan has no end date, so it stays as it is; /paysupport can refund this payment.
payment-credited-pack = Thank you! <b>{ $title }</b>: { $images } images added. Purchased images left: { $left }.
payment-renewed = Your subscription <b>{ $title }</b> was renewed. Your plan runs until { $until }.
payment-refunded = Your payment of { $amount } ⭐ was refunded.
payment-orphan = { $refunding ->
        [yes] We received { $amount } ⭐ but could not match the payment to an order you can pay for. It is being refunded.
       *[no] We received { $amount } ⭐ but could not match the payment to an order you can pay for. We will look into it; /paysupport shows your payments.
    }
sub-cancel-button = Cancel renewal
sub-resume-button = Resume renewal
sub-canceled = Renewal cancelled. You keep your plan until { $until }.
sub-resumed = Renewal is on again: the next payment is on { $until }.
sub-none = You have no running subscription.
sub-failed = Telegram did not accept the change. Please try again later.
paysupport-title = <b>Help with payments</b>
paysupport-recent = <b>Your latest payments:</b>
paysupport-none = You have not paid for anything yet.
paysupport-line = { $date } · { $title } · { $amount } ⭐ · { $status }
    <code>{ $charge }</code>
payment-status-credited = paid
payment-status-orphan = under review
payment-status-refund_pending = refund in progress
payment-status-refunded = refunded
payment-status-refund_failed = refund failed, please contact us
cmd-buy = Plans and image packs
cmd-paysupport = Help with payments
cmd-privacy = Privacy policy
cmd-terms = Terms of use
image-usage = Describe the picture after the command, e.g. <code>/image a lighthouse on a cliff at sunset</code>.
image-too-long = That description is too long: at most { $max } characters.
image-denied = I can't draw that. Try describing something else.
image-nsfw = I don't draw explicit pictures here. Try describing something else.
image-minors = I never draw sexual content involving minors.
image-quota-exceeded = You have used all your pictures for this period. They come back { $resetsAt }.
image-quota-none = Your plan has no pictures. /status shows the details.
image-too-many = You already have { $max } pictures on the way. Wait for them to finish.
image-not-available = Pictures are not available here right now.
image-not-found = That picture or answer no longer exists.
image-waiting = 🎨 One picture at a time: yours is #{ $position } in the queue.
image-queued = 🎨 Queued…
image-queued-at = 🎨 Queued, #{ $position }
image-writing = ✍️ Writing a prompt for your picture…
image-drawing = 🎨 Drawing… { $percent }%
image-failed = Sorry, the picture failed. It was not counted — please try again.
image-timed-out = Sorry, the picture took too long and was stopped. It was not counted — please try again.
image-unavailable = Sorry, the picture service is unavailable right now. The picture was not counted — please try again later.
image-refused-written = I could not make a suitable picture from this. It was not counted.
image-cancelled = Cancelled. The picture was not counted.
image-too-late = Too late to cancel: the picture is already on its way.
button-picture = 🎨 Picture
button-image-cancel = ✖ Cancel
button-image-again = ↻ Again
button-image-variation = 🔁 Variation
cmd-image = Draw a picture
