"""A cluster with one EC2 container instance on moto, for the seed scripts: moto's
Fargate RunTask is broken, so their tasks use the EC2 launch type on this instance."""

import json


def cluster_with_host(ecs, ec2, cluster, region):
    """Create `cluster` (long task ARNs, as every account has had since 2021) and register
    one t3.large instance in it."""
    ecs.put_account_setting(name="taskLongArnFormat", value="enabled")
    ecs.create_cluster(clusterName=cluster)
    image_id = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.large")[
        "Instances"
    ][0]
    document = {
        "instanceId": instance["InstanceId"],
        "region": region,
        "availabilityZone": f"{region}a",
        "instanceType": "t3.large",
        "accountId": "123456789012",
        "imageId": image_id,
        "privateIp": "10.0.0.10",
    }
    ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps(document))
