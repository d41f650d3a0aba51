import assert from 'node:assert/strict';
import { domainXml, parseDomainXml, SHOAL_XML_NAMESPACE } from '../../../src/host/libvirt-domain-xml.ts';
import { parseDomstatsFields } from '../../../src/host/libvirt-driver.ts';

describe('libvirt domain XML', () => {
  it('round-trips the job id, tenant, size and disk through generate → parse', () => {
    const xml = domainXml({ name: 'shoal-01abc', title: 'web & db', jobId: '01abc', tenant: 'acme', type: 'kvm', vcpus: 2, memoryMiB: 512, machine: 'q35', disk: '/data/vms/01abc/disk.qcow2' });
    const d = parseDomainXml(xml);
    assert.equal(d.name, 'shoal-01abc');
    assert.equal(d.title, 'web & db', 'special characters are escaped and restored');
    assert.equal(d.jobId, '01abc', 'the job id comes back from <metadata>');
    assert.equal(d.tenant, 'acme');
    assert.equal(d.vcpus, 2);
    assert.equal(d.memoryMiB, 512, 'unit=MiB is read as MiB');
    assert.deepEqual(d.disks, ['/data/vms/01abc/disk.qcow2']);
  });

  it('leaves out the disk for a firmware-only VM', () => {
    const xml = domainXml({ name: 'n', title: 't', jobId: 'j', tenant: 'x', type: 'qemu', vcpus: 1, memoryMiB: 64, machine: 'q35' });
    assert.doesNotMatch(xml, /<disk/, 'no disk element without an image');
    assert.deepEqual(parseDomainXml(xml).disks, []);
  });

  it('reads libvirt\'s own dumpxml form: KiB memory, id attribute, metadata under another prefix', () => {
    const xml = `<domain type='kvm' id='7'>
  <name>0123</name>
  <uuid>9bd05b8f-40cb-4b73-a327-347f2131b0d3</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="x"/></libosinfo:libosinfo>
    <s:job xmlns:s="${SHOAL_XML_NAMESPACE}"><s:id>j1</s:id></s:job>
  </metadata>
  <memory unit='KiB'>65536</memory>
  <vcpu placement='static'>4</vcpu>
  <devices><disk type='file' device='disk'><source file='/a.qcow2'/></disk><disk type='block' device='disk'><source dev='/dev/sdb'/></disk></devices>
</domain>`;
    const d = parseDomainXml(xml);
    assert.equal(d.name, '0123', 'a numeric-looking name stays a string');
    assert.equal(d.id, 7);
    assert.equal(d.jobId, 'j1', 'our namespace is found whatever its prefix');
    assert.equal(d.memoryMiB, 64, '65536 KiB is 64 MiB');
    assert.equal(d.vcpus, 4);
    assert.deepEqual(d.disks, ['/a.qcow2', '/dev/sdb']);
  });

  it('does not take a job id from a foreign namespace that happens to use "job"', () => {
    const xml = `<domain type='kvm'><name>x</name><metadata><o:job xmlns:o="https://other.example/ns"><o:id>evil</o:id></o:job></metadata></domain>`;
    assert.equal(parseDomainXml(xml).jobId, undefined, 'only the Shoal namespace marks a Shoal domain');
  });

  it('rejects a document that is not a domain', () => {
    assert.throws(() => parseDomainXml('<network><name>default</name></network>'), /not a libvirt domain/);
  });

  it('parses virsh domstats --raw blocks per domain', () => {
    const m = parseDomstatsFields("Domain: 'a'\n  state.state=1\n  state.reason=1\n\nDomain: 'b c'\n  state.state=5\n  cpu.time=123\n");
    assert.equal(m.get('a')?.get('state.state'), '1');
    assert.equal(m.get('b c')?.get('state.state'), '5', 'names with spaces are kept');
    assert.equal(m.get('b c')?.get('cpu.time'), '123');
  });
});
