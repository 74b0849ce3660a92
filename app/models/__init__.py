"""The schema, one module per aggregate."""
from .base import Base
from .campaign import Campaign, CampaignKind, CampaignStatus, Enrollment, EnrollmentStatus, Step, StepVersion
from .confirmation import FormConfirmation
from .contact import NURTURE_STAGES, Contact, EmailStatus, Note, Stage, StageTransition
from .event import Event, EventType
from .handoff import Feedback, Handoff, HandoffEvent, HandoffStatus, Outcome
from .idempotency import IdempotencyKey
from .message import Alert, DomainThrottle, Message, MessageKind, MessageStatus, OutboxEmail, SendLane
from .persona import Persona, Segment
from .scoring import FitCriterion, ScoringRule, Setting
from .user import ApiKey, Role, User
from .webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Base", "Campaign", "CampaignKind", "CampaignStatus", "Enrollment", "EnrollmentStatus", "Step",
    "StepVersion", "NURTURE_STAGES", "Contact", "EmailStatus", "Note", "Stage", "StageTransition",
    "Event", "EventType", "FormConfirmation", "Feedback", "Handoff", "HandoffEvent", "HandoffStatus", "Outcome", "WebhookDelivery", "Message",
    "MessageKind", "MessageStatus", "OutboxEmail", "SendLane", "Alert", "DomainThrottle", "Persona", "Segment", "FitCriterion",
    "ScoringRule", "Setting", "ApiKey", "IdempotencyKey", "Role", "User", "WebhookEndpoint",
]
