"""Feedback owed to tellers: created by the planner, sent by the delivery engine, closed
when done. Below the planner because planning and withdrawal create the obligations."""

from coprolib.feedback.owed import (
    BY_HAND as BY_HAND,
)
from coprolib.feedback.owed import (
    FeedbackNotFound as FeedbackNotFound,
)
from coprolib.feedback.owed import (
    FeedbackPlan as FeedbackPlan,
)
from coprolib.feedback.owed import (
    ForAPerson as ForAPerson,
)
from coprolib.feedback.owed import (
    cancel_owed_feedback as cancel_owed_feedback,
)
from coprolib.feedback.owed import (
    feedback_done as feedback_done,
)
from coprolib.feedback.owed import (
    feedback_due as feedback_due,
)
from coprolib.feedback.owed import (
    feedback_refusal as feedback_refusal,
)
from coprolib.feedback.owed import (
    feedback_send_refusal as feedback_send_refusal,
)
from coprolib.feedback.owed import (
    feedback_share_identity as feedback_share_identity,
)
from coprolib.feedback.owed import (
    is_about_outcome as is_about_outcome,
)
from coprolib.feedback.owed import (
    mark_feedback_sent as mark_feedback_sent,
)
from coprolib.feedback.owed import (
    owe_feedback as owe_feedback,
)
from coprolib.feedback.owed import (
    plan_feedback as plan_feedback,
)
from coprolib.feedback.owed import (
    render_feedback as render_feedback,
)
from coprolib.feedback.owed import (
    scheduled_message as scheduled_message,
)
