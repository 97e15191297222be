"""The durable client binding JSON and management links, as the Durable extension builds them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"


@dataclass(frozen=True)
class DurableUrls:
    """Where the Durable HTTP API lives for the current host."""

    origin: str
    rpc_origin: str
    hub_name: str
    system_key: str | None = None

    @property
    def webhook_base(self) -> str:
        """Base of the public webhook API on the main port."""
        return self.origin + WEBHOOK_PATH

    @property
    def rpc_base(self) -> str:
        """Base of the RPC API the SDK client calls; must end with '/'."""
        return self.rpc_origin + RPC_PATH

    def _query(self) -> str:
        query = f"taskHub={quote(self.hub_name)}&connection=Storage"
        if self.system_key:
            query += f"&code={quote(self.system_key)}"
        return query

    def management_links(self, instance_id: str, origin: str | None = None) -> dict[str, str]:
        """The per-instance management URLs (``create_check_status_response`` payload)."""
        base = (origin or self.origin) + WEBHOOK_PATH + "/instances/" + quote(instance_id, safe="")
        q = self._query()
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{base}?{q}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{q}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{q}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{q}",
            "purgeHistoryDeleteUri": f"{base}?{q}",
            "restartPostUri": f"{base}/restart?{q}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{q}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{q}",
        }

    def binding_json(self) -> str:
        """The string the host passes for a ``durableClient`` binding."""
        create = self.webhook_base + "/orchestrators/{functionName}[/{instanceId}]"
        return json.dumps(
            {
                "taskHubName": self.hub_name,
                "creationUrls": {
                    "createNewInstancePostUri": f"{create}?{self._query()}",
                    "createAndWaitOnNewInstancePostUri": (
                        f"{create}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}"
                        f"&{self._query()}"
                    ),
                },
                "managementUrls": self.management_links(INSTANCE_ID_PLACEHOLDER),
                "baseUrl": self.webhook_base,
                "requiredQueryStringParameters": f"code={quote(self.system_key)}" if self.system_key else "",
                "rpcBaseUrl": self.rpc_base,
                "httpBaseUrl": self.webhook_base,
            }
        )
