"""Custom Vision Training API (v3.3) client: typed models, one error tree, rate limit and retries.

Typical use::

    allow = EndpointAllowList(extra_origins=("http://127.0.0.1:7080",))
    with TrainingClient(endpoint, key, allow_list=allow) as client:
        for page in client.iter_images(project_id, metadata={"subjectId": "subject-001"}):
            ...
"""

from dsr.customvision.calls import CallHook, CallOutcome, CallRecord, CallRecorder, CallTally
from dsr.customvision.client import ClientOptions, TrainingClient
from dsr.customvision.endpoints import EndpointAllowList
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

__all__ = [
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
    "TrainingClient",
    "UnexpectedResponseError",
]
