//! Image references: an image string split into registry, repository, tag and digest,
//! and the command that shows whether it exists.

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub full: String,
    /// `Some((account, region))` for Amazon ECR images.
    pub ecr: Option<(String, String)>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(image: &str) -> ImageRef {
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_string())),
            None => (image, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_string()),
            ),
            None => (name, None),
        };
        let (host, repository) = match path.split_once('/') {
            Some((host, rest)) if host.contains('.') || host.contains(':') => (Some(host), rest),
            _ => (None, path),
        };
        let ecr = host.and_then(|h| {
            let mut parts = h.split('.');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(account), Some("dkr"), Some("ecr"), Some(region)) => {
                    Some((account.to_string(), region.to_string()))
                }
                _ => None,
            }
        });
        ImageRef {
            full: image.to_string(),
            ecr,
            repository: repository.to_string(),
            tag,
            digest,
        }
    }

    /// A command that shows whether the image exists.
    pub fn check_command(&self) -> String {
        match &self.ecr {
            Some((_, region)) => {
                let id = match (&self.tag, &self.digest) {
                    (_, Some(digest)) => format!("imageDigest={digest}"),
                    (Some(tag), None) => format!("imageTag={tag}"),
                    (None, None) => "imageTag=latest".to_string(),
                };
                format!(
                    "aws ecr describe-images --repository-name {} --image-ids {id} --region {region}",
                    self.repository
                )
            }
            None => format!("docker manifest inspect {}", self.full),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_parse() {
        let image = ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:v1.2");
        assert_eq!(image.ecr, Some(("123456789012".into(), "eu-west-1".into())));
        assert_eq!(image.repository, "team/api");
        assert_eq!(image.tag.as_deref(), Some("v1.2"));
        assert!(image
            .check_command()
            .contains("--repository-name team/api --image-ids imageTag=v1.2 --region eu-west-1"));
        let image = ImageRef::parse("localhost:5000/app");
        assert_eq!(image.tag, None);
        assert_eq!(image.repository, "app");
        let image = ImageRef::parse("nginx:1.25");
        assert_eq!(
            (image.repository.as_str(), image.tag.as_deref()),
            ("nginx", Some("1.25"))
        );
    }
}
