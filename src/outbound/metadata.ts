/**
 * Cloud metadata endpoints: a hard deny for the outbound client (ip-policy.ts: no operator CIDR
 * exception re-opens them) and the request guard's rule MD-METADATA-HOST (guards/rules.ts).
 *
 * Pure data: no imports.
 */
/** Cloud metadata endpoint addresses. */
export const METADATA_ADDRESSES: readonly string[] = [
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle (IMDS)
  '169.254.170.2', // AWS ECS task metadata / credentials
  '169.254.170.23', // AWS EKS Pod Identity agent
  '169.254.0.23', // Tencent Cloud
  '100.100.100.200', // Alibaba Cloud
  '168.63.129.16', // Azure WireServer / host agent
  '192.0.0.192', // Oracle Cloud (legacy)
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd00:ec2::23', // AWS EKS Pod Identity agent over IPv6
];

/** Cloud metadata endpoint host names. */
export const METADATA_HOST_NAMES: readonly string[] = [
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
  'metadata.platformequinix.com',
  'metadata.packet.net',
  'metadata.azure.internal',
];
