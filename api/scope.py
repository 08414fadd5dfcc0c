"""An API key as the principal the panel's scoping functions take.

The scoping (`Series.objects.visible_to`, `cards_visible_to`, ...) takes a user and reads its
subtree through `reseller_ids_visible_to`, which uses the ids cached on it. A key acts for its
reseller's subtree, read once per call, so the API's reads go through the same scoping as the
pages' and no second scoping rule exists.
"""

from dataclasses import dataclass, field

from resellers.models import Reseller

from .models import ApiKey


@dataclass
class KeyPrincipal:
    key: ApiKey
    reseller: Reseller
    is_authenticated: bool = True
    is_active: bool = True
    _visible_reseller_ids: list[int] = field(default_factory=list)

    @property
    def reseller_id(self) -> int:
        return self.reseller.pk

    @property
    def pk(self) -> None:
        return None  # not a user: nothing is recorded as done by it

    def has_perm(self, perm: str) -> bool:
        return False  # the API's rights are the key's (ApiKey.rights), not a user's


def key_principal(key: ApiKey) -> KeyPrincipal:
    reseller = Reseller.objects.get(pk=key.reseller_id)
    ids = list(Reseller.objects.subtree_of(reseller).values_list("pk", flat=True))
    return KeyPrincipal(key=key, reseller=reseller, _visible_reseller_ids=ids)
