"""moto's server, with DynamoDB's writes made atomic as they are in DynamoDB.

DynamoDB applies a conditional write (PutItem, UpdateItem, DeleteItem with a condition
expression) atomically: of two replicas racing on one item, exactly one condition holds.
moto's server answers requests on several threads and checks a condition, then writes,
without a lock, so two racing requests can both pass. The tests of "exactly once" across
replicas rely on DynamoDB's guarantee, so this launcher serialises moto's DynamoDB item
operations behind one lock, then runs moto's own server unchanged (same arguments).
"""

import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()


def _atomic(method):
    def locked(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    locked.__name__ = method.__name__
    return locked


for _name in ("put_item", "update_item", "delete_item", "get_item", "transact_write_items"):
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    main()
