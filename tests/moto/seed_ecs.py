"""Seed a running moto server with one stopped ECS task and its CloudWatch logs.

Run by tests/support/moto.rs with .venv/bin/python (boto3 comes with moto):
    seed_ecs.py ENDPOINT_URL
Creates a cluster, an EC2 instance registered as a container instance (moto 5.2.5's
Fargate RunTask is broken, so the task uses the EC2 launch type), a task definition
logging with awslogs, runs the task and stops it with a reason, and writes log events
(one holding a fake access key, to check redaction). Also writes one EventBridge
"ECS Task State Change" event for a task ECS does not know into an archive log group.
Prints what it made as one JSON object on stdout.
"""

import json
import sys
import time

import boto3
from cluster_host import cluster_with_host

endpoint = sys.argv[1]
region = "us-east-1"
session = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
)
ecs = session.client("ecs", endpoint_url=endpoint)
ec2 = session.client("ec2", endpoint_url=endpoint)
logs = session.client("logs", endpoint_url=endpoint)

cluster = "moto-cluster"
cluster_with_host(ecs, ec2, cluster, region)

log_group = "/ecs/moto-web"
definition = ecs.register_task_definition(
    family="moto-web",
    networkMode="bridge",
    containerDefinitions=[
        {
            "name": "web",
            "image": "public.ecr.aws/docker/library/nginx:1.27",
            "memory": 256,
            "essential": True,
            "environment": [{"name": "DB_PASSWORD", "value": "plain-text-secret-value"}],
            "secrets": [
                {
                    "name": "API_KEY",
                    "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/api-key",
                }
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": "ecs",
                },
            },
        }
    ],
)["taskDefinition"]

task = ecs.run_task(
    cluster=cluster,
    taskDefinition=definition["taskDefinitionArn"],
    launchType="EC2",
    count=1,
    startedBy="seed-script",
)["tasks"][0]
task_arn = task["taskArn"]
task_id = task_arn.rsplit("/", 1)[-1]
ecs.stop_task(cluster=cluster, task=task_arn, reason="Scaled down by the seed script")

stream = f"ecs/web/{task_id}"
logs.create_log_group(logGroupName=log_group)
logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
now = int(time.time() * 1000)
lines = [f"request {i} served in 3ms" for i in range(60)] + [
    "connecting with AKIAIOSFODNN7EXAMPLE",
    "Error: connect ECONNREFUSED 10.0.3.4:5432",
]
logs.put_log_events(
    logGroupName=log_group,
    logStreamName=stream,
    logEvents=[{"timestamp": now - (len(lines) - i) * 1000, "message": m} for i, m in enumerate(lines)],
)

archive_group = "/ecs-why/task-state-changes"
archived_id = "0badc0de0badc0de0badc0de0badc0de"
archived_arn = f"arn:aws:ecs:{region}:123456789012:task/{cluster}/{archived_id}"
logs.create_log_group(logGroupName=archive_group)
logs.create_log_stream(logGroupName=archive_group, logStreamName="events")
event = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "ECS Task State Change",
    "source": "aws.ecs",
    "account": "123456789012",
    "time": "2024-05-01T10:00:00Z",
    "region": region,
    "resources": [archived_arn],
    "detail": {
        "taskArn": archived_arn,
        "clusterArn": f"arn:aws:ecs:{region}:123456789012:cluster/{cluster}",
        "taskDefinitionArn": definition["taskDefinitionArn"],
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "stoppedAt": "2024-05-01T10:00:00Z",
        "version": 4,
        "containers": [{"name": "web", "exitCode": 137, "lastStatus": "STOPPED",
                        "reason": "OutOfMemoryError: Container killed due to memory usage"}],
    },
}
logs.put_log_events(
    logGroupName=archive_group,
    logStreamName="events",
    logEvents=[{"timestamp": now, "message": json.dumps(event)}],
)

print(
    json.dumps(
        {
            "cluster": cluster,
            "task_arn": task_arn,
            "task_id": task_id,
            "task_definition_arn": definition["taskDefinitionArn"],
            "log_group": log_group,
            "log_stream": stream,
            "archive_group": archive_group,
            "archived_task_id": archived_id,
        }
    )
)
