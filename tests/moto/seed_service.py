"""Seed a running moto server with a service that runs web:2 after web:1, and one task
of its deployment that stopped: what the actions tests roll back and restart.

Run by tests/actions.rs with .venv/bin/python (boto3 comes with moto):
    seed_service.py ENDPOINT_URL
The task uses the EC2 launch type on a registered container instance (moto's Fargate
RunTask is broken). Start moto with MOTO_ECS_SERVICE_RUNNING at the desired count so
its deployments say COMPLETED. Prints what it made as one JSON object on stdout.
"""

import json
import sys

import boto3
from cluster_host import cluster_with_host

endpoint = sys.argv[1]
region = "us-east-1"
session = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
)
ecs = session.client("ecs", endpoint_url=endpoint)
ec2 = session.client("ec2", endpoint_url=endpoint)

ecs.put_account_setting(name="serviceLongArnFormat", value="enabled")
cluster = "prod"
cluster_with_host(ecs, ec2, cluster, region)


def register(tag):
    return ecs.register_task_definition(
        family="web",
        networkMode="bridge",
        containerDefinitions=[
            {
                "name": "web",
                "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{tag}",
                "memory": 256,
                "essential": True,
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]


first = register("1.0")
second = register("2.0")
service = ecs.create_service(
    cluster=cluster,
    serviceName="web",
    taskDefinition=second,
    desiredCount=2,
    launchType="EC2",
)["service"]
deployment = service["deployments"][0]["id"]
task = ecs.run_task(
    cluster=cluster,
    taskDefinition=second,
    launchType="EC2",
    count=1,
    group="service:web",
    startedBy=deployment,
)["tasks"][0]
ecs.stop_task(cluster=cluster, task=task["taskArn"], reason="Essential container in task exited")

print(
    json.dumps(
        {
            "cluster": cluster,
            "task_arn": task["taskArn"],
            "deployment": deployment,
            "first": first,
            "second": second,
        }
    )
)
