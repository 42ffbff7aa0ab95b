"""Names of the conversation steps and of the button verbs, in one place.

A step is where a multi-step dialogue stands (registration, /menu, donor intake), stored in the
conversation state; a verb is the first part of a button payload ("claim:42") and picks the
handler. Both are stored or sent as their string values."""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    """What the person was last asked in a dialogue."""

    # registration
    REST_NAME = "rest_name"
    REST_LOCATION = "rest_location"
    REST_ADDRESS = "rest_address"
    REST_MENU = "rest_menu"
    REST_CAPACITY = "rest_capacity"
    REST_HOURS = "rest_hours"
    WORKER_NAME = "worker_name"
    WORKER_LOCATION = "worker_location"
    # a restaurant changing what it offers
    REST_SET_CAPACITY = "rest_set_capacity"
    REST_SET_MENU = "rest_set_menu"
    # donor intake: photo, consent, place, what it is like, meal, tip, payment
    DONOR_CONSENT = "donor_consent"
    DONOR_LOCATION = "donor_location"
    DONOR_SCENE = "donor_scene"
    DONOR_MEAL = "donor_meal"
    DONOR_TIP = "donor_tip"
    DONOR_CONFIRM = "donor_confirm"
    # a lookalike in the duplicate check's uncertain band: one more photo of the person, please
    DONOR_SECOND_PHOTO = "donor_second_photo"
    # proof of delivery
    DELIVER_PHOTO = "deliver_photo"
    DELIVER_LOCATION = "deliver_location"
    # proof that the person could not be found
    NOT_FOUND_PHOTO = "not_found_photo"
    NOT_FOUND_LOCATION = "not_found_location"
    # an admin confirming a deposit just typed
    ADMIN_DEPOSIT = "admin_deposit"
    # a party's own words about a problem; an admin's one-line reason for a decision
    DISPUTE_EVIDENCE = "dispute_evidence"
    DISPUTE_NOTE = "dispute_note"
    # /pledge: amount, kind, place, radius, hours, monthly renewal, confirmation
    PLEDGE_AMOUNT = "pledge_amount"
    PLEDGE_KIND = "pledge_kind"
    PLEDGE_PLACE = "pledge_place"
    PLEDGE_RADIUS = "pledge_radius"
    PLEDGE_HOURS = "pledge_hours"
    PLEDGE_RENEW = "pledge_renew"
    PLEDGE_CONFIRM = "pledge_confirm"
    # a restaurant or worker confirming where payouts go
    PAYOUT_CONFIRM = "payout_confirm"
    # /forget on SMS: the typed word that confirms an erasure
    FORGET_WORD = "forget_word"
    # a member making a proposal: which rule, its new value (or a decision's words), why
    GOV_ITEM = "gov_item"
    GOV_VALUE = "gov_value"
    GOV_DECISION = "gov_decision"
    GOV_REASON = "gov_reason"
    # a rated restaurant or worker giving the reason of an appeal
    RATING_APPEAL = "rating_appeal"
    # a rater's optional comment after the stars (or skip)
    RATING_COMMENT = "rating_comment"
    # /nearby on with no place known yet: the area to hear of campaigns around
    NEARBY_PLACE = "nearby_place"


# Steps waiting for typed words, numbers or coordinates: what is typed there answers the step,
# not an open prompt (a restaurant typing "1" at /capacity means one meal, not "Ready").
TAKES_TYPED_INPUT = frozenset(Step) - {Step.DONOR_CONSENT, Step.DONOR_SCENE, Step.DONOR_MEAL, Step.DONOR_TIP,
                                        Step.DONOR_CONFIRM, Step.DONOR_SECOND_PHOTO, Step.ADMIN_DEPOSIT, Step.PAYOUT_CONFIRM,
                                        Step.PLEDGE_KIND, Step.PLEDGE_RADIUS, Step.PLEDGE_HOURS, Step.PLEDGE_RENEW,
                                        Step.PLEDGE_CONFIRM}  # fmt: skip
# Steps waiting for a person's own words (a name, an address, a reason, a comment): there only a
# slash command or a whole typed command word is a command, never the first word of a sentence
# ("அருகில் இருந்த கடை…" is a comment, not /nearby; "give back the tip" is a reason, not /give).
FREE_WORDS = frozenset({Step.REST_NAME, Step.REST_ADDRESS, Step.WORKER_NAME, Step.DISPUTE_EVIDENCE, Step.DISPUTE_NOTE,
                        Step.GOV_DECISION, Step.GOV_REASON, Step.RATING_APPEAL, Step.RATING_COMMENT})  # fmt: skip


class Verb(StrEnum):
    """The first part of a button payload: which handler answers it."""

    ROLE = "role"
    LANG = "lang"
    APPROVE = "approve"
    DENY = "deny"
    CONSENT = "consent"
    SCENE = "scene"
    REPORT = "report"
    MEAL = "meal"
    TIP = "tip"
    PAY = "pay"
    CANCEL = "cancel"
    ACCEPT = "accept"
    REJECT = "reject"
    READY = "ready"
    CLAIM = "claim"
    PICKUP = "pickup"
    DELIVERED = "delivered"
    NOT_FOUND = "notfound"  # the worker could not find the person
    JOBS = "jobs"
    DEPOSIT = "deposit"
    DEPOSIT2 = "deposit2"  # a second admin confirming a large deposit
    WAIT = "wait"  # a donor waiting longer for a worker to claim
    GIVE_UP = "giveup"  # a donor stopping an order no worker claimed
    COMING = "coming"  # a claiming worker still on the way
    GIVE_BACK = "giveback"  # a claiming worker handing the job back
    DISPUTE = "dispute"  # a party reporting a problem with a delivered order
    DISPUTE_REASON = "dreason"  # what went wrong
    RESOLVE = "resolve"  # an admin deciding a dispute
    APPEAL = "appeal"  # a party appealing the decision
    APPEAL_TO = "appealto"  # with no second admin: the outcome the appealing party asks the members for
    PLEDGE_KIND = "pkind"  # /pledge: which meals the money may pay for
    PLEDGE_RADIUS = "pradius"  # /pledge: how far around the place
    PLEDGE_HOURS = "phours"  # /pledge: during which hours
    PLEDGE_RENEW = "prenew"  # /pledge: monthly or once
    PLEDGE_OK = "pledgeok"  # /pledge: make it
    PLEDGE_NO = "pledgeno"  # /pledge: stop without making it
    PLEDGE_STOP = "pstop"  # cancel a pledge (what is left goes back to the balance)
    PLEDGE_PAUSE = "ppause"
    PLEDGE_RESUME = "presume"
    PLEDGE_TELL = "ptell"  # how often a pledge's donor hears of its uses: every use or once a day
    PAYTO = "payto"  # a payee confirming new payout details
    FORGET = "forget"  # confirming (or not) that one's data is erased
    CARD = "card"  # a donor choosing to pay an order by card
    POOL_PAY = "poolpay"  # a donor paying from the balance what the pool covered for a cancelled card hold
    NO_PHOTO = "nophoto"  # a donor who cannot take the second photo the duplicate check asked for
    NOT_SAME = "notsame"  # a refused donor sure the person is someone else than the one matched
    JOIN = "join"  # accepting the cooperative's rules to become a member
    SECOND = "second"  # a member seconding a proposal
    VOTE = "vote"  # a member's Yes / No / Abstain on an open proposal
    RATE = "rate"  # 1-5 stars for one aspect of a settled order
    RATING_APPEAL = "rappeal"  # the rated person appealing a rating
    RATING_DECIDE = "rdecide"  # an admin withdrawing or keeping an appealed rating
    RATING_COMMENT = "rcomment"  # a rater skipping the optional comment after the stars
    CAMPAIGN = "campaign"  # a donor starting a campaign for a screened request and chosen meal
    GIVE = "give"  # a giver confirming a gift to a campaign (named or anonymous)
    GIVE_CARD = "givecard"  # a giver choosing to give to a campaign by card (named or anonymous)
    CAMPAIGN_STOP = "campaignstop"  # the creator cancelling a campaign
    GIVE_ASK = "giveask"  # Give on a listed or "near you" campaign: amounts are offered next
    GIVE_AMOUNT = "giveamt"  # one of those amounts tapped
    NEARBY = "nearby"  # hearing (on) or no longer hearing (off) of new campaigns nearby
