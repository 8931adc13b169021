package bftledger.node.config;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The network's TLS certificates: a CA that {@code init} creates and whose certificate genesis
 * carries, and one certificate per node issued by it (ECDSA P-256, SHA-256). A node certificate
 * names the host of the node's genesis address (DNS or IP) and any extra names the operator
 * gives, and serves both as the node's server certificate and as its client certificate towards
 * peers. Keys are PKCS#8 PEM files with owner-only permissions, written atomically (a node that
 * reloads its files never sees half of one). See InitTlsTest and NetworkTlsTest.
 */
public final class TlsCertificates {
    /** How long the CA is valid: it is pinned in genesis, so it outlives every node certificate. */
    public static final Duration CA_VALIDITY = Duration.ofDays(3650);
    /** A node certificate's default validity; rotate before it ends ({@code bftledger tls issue}). */
    public static final Duration NODE_VALIDITY = Duration.ofDays(365);
    /** Start of validity this far back, so a peer whose clock is a little behind accepts a new certificate. */
    static final Duration BACKDATE = Duration.ofHours(1);
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final SecureRandom random = new SecureRandom();

    private TlsCertificates() {}

    /** A fresh ECDSA P-256 key pair. */
    public static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), random);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no EC P-256 key generator: " + e, e);
        }
    }

    /** A self-signed CA certificate for chain {@code chainId}. */
    public static X509Certificate createCa(String chainId, KeyPair ca, Instant now) {
        X500Name name = new X500Name("CN=bftledger network CA " + escape(chainId) + ",O=bftledger");
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minus(BACKDATE)),
                    Date.from(now.plus(CA_VALIDITY)), name, ca.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(ca.getPublic()));
            return sign(b, ca.getPrivate());
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build the CA certificate: " + e, e);
        }
    }

    /**
     * A node certificate for {@code commonName}, naming every host in {@code names} (DNS names or
     * IP literals), for TLS server and client use, issued by {@code ca}.
     */
    public static X509Certificate issue(X509Certificate ca, PrivateKey caKey, PublicKey node, String commonName,
                                        List<String> names, Instant now, Duration validity) {
        if (names.isEmpty()) {
            throw new IllegalArgumentException("a node certificate needs at least one host name");
        }
        List<GeneralName> sans = new ArrayList<>();
        for (String host : names) {
            sans.add(isIpLiteral(host) ? new GeneralName(GeneralName.iPAddress, host) : new GeneralName(GeneralName.dNSName, host));
        }
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca, serial(), Date.from(now.minus(BACKDATE)),
                    Date.from(now.plus(validity)), new X500Name("CN=" + escape(commonName) + ",O=bftledger"), node)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                    .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(GeneralName[]::new)))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(node));
            return sign(b, caKey);
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build the node certificate: " + e, e);
        }
    }

    /** The host of a {@code host:port} address ({@code [v6]:port} too), as a certificate names it. */
    public static String host(String address) {
        int colon = address.lastIndexOf(':');
        String host = colon < 0 ? address : address.substring(0, colon);
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    static boolean isIpLiteral(String host) {
        return IPV4.matcher(host).matches() || host.contains(":");
    }

    /**
     * Why {@code certificate} with {@code key} cannot serve as a node identity under {@code ca}, or
     * null when it can: issued (signed) by the CA, currently valid, not itself a CA, and the key is
     * the certificate's.
     */
    public static String problem(X509Certificate certificate, PrivateKey key, X509Certificate ca, Instant now) {
        try {
            certificate.verify(ca.getPublicKey());
        } catch (GeneralSecurityException e) {
            return "the certificate (" + certificate.getSubjectX500Principal() + ") is not issued by the network CA in genesis ("
                    + ca.getSubjectX500Principal() + ")";
        }
        if (now.isBefore(certificate.getNotBefore().toInstant()) || now.isAfter(certificate.getNotAfter().toInstant())) {
            return "the certificate is valid from " + certificate.getNotBefore().toInstant() + " to "
                    + certificate.getNotAfter().toInstant() + ", not now (" + now + ")";
        }
        if (certificate.getBasicConstraints() >= 0) {
            return "the certificate is a CA certificate, not a node certificate";
        }
        if (!keyMatches(certificate.getPublicKey(), key)) {
            return "the private key is not the certificate's";
        }
        return null;
    }

    public static boolean keyMatchesCertificate(X509Certificate certificate, PrivateKey key) {
        return keyMatches(certificate.getPublicKey(), key);
    }

    static boolean keyMatches(PublicKey certified, PrivateKey key) {
        try {
            byte[] probe = new byte[32];
            random.nextBytes(probe);
            Signature s = Signature.getInstance("SHA256withECDSA");
            s.initSign(key);
            s.update(probe);
            byte[] signature = s.sign();
            Signature v = Signature.getInstance("SHA256withECDSA");
            v.initVerify(certified);
            v.update(probe);
            return v.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------------------------ files

    public static String pem(Object certificateOrKey) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            if (certificateOrKey instanceof PrivateKey k) {
                w.writeObject(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(k, null)); // PKCS#8: BEGIN PRIVATE KEY
            } else {
                w.writeObject(certificateOrKey);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode PEM: " + e, e);
        }
        return out.toString();
    }

    /** Writes a certificate (mode 644) through a temporary file and a rename. */
    public static void writeCertificate(Path file, X509Certificate certificate) throws ConfigException {
        writeAtomically(file, pem(certificate), "rw-r--r--");
    }

    /** Writes a private key (mode 600) through a temporary file and a rename. */
    public static void writePrivateKey(Path file, PrivateKey key) throws ConfigException {
        writeAtomically(file, pem(key), "rw-------");
    }

    private static void writeAtomically(Path file, String text, String mode) throws ConfigException {
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try {
                Files.writeString(tmp, text, StandardCharsets.US_ASCII);
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(mode));
                try {
                    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new ConfigException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    public static X509Certificate readCertificate(Path file) throws ConfigException {
        return parseCertificate(read(file), file.toString());
    }

    public static PrivateKey readPrivateKey(Path file) throws ConfigException {
        return parsePrivateKey(read(file), file.toString());
    }

    static byte[] read(Path file) throws ConfigException {
        try {
            if (Files.size(file) > 64 * 1024) {
                throw new ConfigException(file + " is over 64 KiB; it is not a PEM certificate or key.");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + " does not exist. `bftledger init` writes each node's TLS files to"
                    + " node<i>/tls/; `bftledger tls issue` makes new ones from the network CA.", e);
        } catch (IOException e) {
            throw new ConfigException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static X509Certificate parseCertificate(byte[] pem, String source) throws ConfigException {
        Object o = parsePem(pem, source);
        try {
            if (o instanceof org.bouncycastle.cert.X509CertificateHolder holder) {
                return new JcaX509CertificateConverter().getCertificate(holder);
            }
        } catch (GeneralSecurityException e) {
            throw new ConfigException(source + ": the certificate does not decode: " + e.getMessage(), e);
        }
        throw new ConfigException(source + " holds no PEM certificate (BEGIN CERTIFICATE).");
    }

    static PrivateKey parsePrivateKey(byte[] pem, String source) throws ConfigException {
        Object o = parsePem(pem, source);
        try {
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            if (o instanceof PrivateKeyInfo info) {
                return converter.getPrivateKey(info);
            }
            if (o instanceof org.bouncycastle.openssl.PEMKeyPair pair) {
                return converter.getPrivateKey(pair.getPrivateKeyInfo());
            }
        } catch (IOException e) {
            throw new ConfigException(source + ": the private key does not decode: " + e.getMessage(), e);
        }
        throw new ConfigException(source + " holds no PEM private key (BEGIN PRIVATE KEY).");
    }

    private static Object parsePem(byte[] pem, String source) throws ConfigException {
        try (Reader r = new StringReader(new String(pem, StandardCharsets.US_ASCII)); PEMParser parser = new PEMParser(r)) {
            return parser.readObject();
        } catch (IOException | RuntimeException e) {
            throw new ConfigException(source + " is not valid PEM: " + e.getMessage(), e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey issuerKey) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign with the issuer key: " + e.getMessage(), e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(127, random).add(BigInteger.ONE);
    }

    /** An RDN value with the characters X.500 string syntax reserves escaped. */
    private static String escape(String value) {
        return value.replaceAll("([,+=\"\\\\<>;#])", "\\\\$1");
    }
}
