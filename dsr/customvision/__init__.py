"""Custom Vision Training API (v3.3) client: typed models, one error tree, rate limit and retries.

Typical use::

    allow = EndpointAllowList(extra_origins=("http://127.0.0.1:7080",))
    with TrainingClient(endpoint, key, allow_list=allow) as client:
        for page in client.iter_images(project_id, metadata={"subjectId": "subject-001"}):
            ...
"""

from dsr.customvision.calls import (
    CallHook,
    CallOutcome,
    CallRecord,
    CallRecorder,
    CallTally,
    observe_calls,
    to_thread_observers,
)
from dsr.customvision.client import (
    DEFAULT_CALL_TIMEOUT_SECONDS,
    DEFAULT_MAX_RETRY_SECONDS,
    DEFAULT_RATE_LIMIT_PER_SECOND,
    MAX_IMAGE_IDS_PER_CALL,
    MAX_PREDICTION_IDS_PER_CALL,
    MIN_RATE_LIMIT_PER_SECOND,
    PAGE_SIZE,
    ClientOptions,
    TrainingClient,
)
from dsr.customvision.endpoints import DEFAULT_ENDPOINT_SUFFIXES, EndpointAllowList, canonical_origin
from dsr.customvision.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CustomVisionError,
    DownloadTooLargeError,
    ForbiddenError,
    IterationPublishedError,
    NotFoundError,
    ServiceError,
    ThrottledError,
    UnexpectedResponseError,
)
from dsr.customvision.filters import metadata_problem
from dsr.customvision.models import (
    Export,
    Image,
    ImagePerformance,
    ImageTag,
    Iteration,
    IterationPerformance,
    Prediction,
    Project,
    ProjectExportCounts,
    StoredImagePrediction,
    Tag,
    TagPerformance,
)
from dsr.customvision.ratelimit import TokenBucket

__all__ = [
    "DEFAULT_CALL_TIMEOUT_SECONDS",
    "DEFAULT_ENDPOINT_SUFFIXES",
    "DEFAULT_MAX_RETRY_SECONDS",
    "DEFAULT_RATE_LIMIT_PER_SECOND",
    "MAX_IMAGE_IDS_PER_CALL",
    "MAX_PREDICTION_IDS_PER_CALL",
    "MIN_RATE_LIMIT_PER_SECOND",
    "PAGE_SIZE",
    "AuthenticationError",
    "BadRequestError",
    "CallHook",
    "CallOutcome",
    "CallRecord",
    "CallRecorder",
    "CallTally",
    "ClientOptions",
    "ConflictError",
    "CustomVisionError",
    "DownloadTooLargeError",
    "EndpointAllowList",
    "Export",
    "ForbiddenError",
    "Image",
    "ImagePerformance",
    "ImageTag",
    "Iteration",
    "IterationPerformance",
    "IterationPublishedError",
    "NotFoundError",
    "Prediction",
    "Project",
    "ProjectExportCounts",
    "ServiceError",
    "StoredImagePrediction",
    "Tag",
    "TagPerformance",
    "ThrottledError",
    "TokenBucket",
    "TrainingClient",
    "UnexpectedResponseError",
    "canonical_origin",
    "metadata_problem",
    "observe_calls",
    "to_thread_observers",
]
