/**
 * Structured identity from the certificate DER (never from Node's `subjectaltname` string,
 * CVE-2021-44532). Pure: no LoopBack imports, no I/O.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type {X509Certificate as NodeX509} from 'node:crypto';
import type {CertificateIdentity} from './identity-rules';

export interface ClientIdentity extends CertificateIdentity {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly fingerprint256: string;
}

export function identityOf(leaf: NodeX509): ClientIdentity {
  const cert = new x509.X509Certificate(new Uint8Array(leaf.raw));
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const dns: string[] = [], uris: string[] = [], emails: string[] = [], ips: string[] = [];
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') dns.push(n.value);
    else if (n.type === 'url') uris.push(n.value);
    else if (n.type === 'email') emails.push(n.value);
    else if (n.type === 'ip') ips.push(n.value);
  }
  return {
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    serial: leaf.serialNumber.toUpperCase().replace(/^0+(?=.)/, ''),
    fingerprint256: leaf.fingerprint256,
    commonNames: cert.subjectName.getField('CN'),
    dns, uris, emails, ips,
  };
}
