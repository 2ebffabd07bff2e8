import http from 'node:http'; import net from 'node:net';
const s = http.createServer((q,r)=>r.end('ok'));
s.on('clientError', (err, socket) => {
  console.log('clientError', err.code, JSON.stringify(String(err.rawPacket)));
  socket.on('data', d => console.log('more', JSON.stringify(String(d))));
  setTimeout(()=>{ socket.end('XML\0'); }, 300);
});
s.listen(0, () => {
  const c = net.connect(s.address().port, () => {
    const req = '<policy-file-request/>\0';
    let i = 0; const t = setInterval(()=>{ c.write(req[i++]); if (i>=req.length) clearInterval(t); }, 10);
  });
  c.on('data', d => console.log('client got', JSON.stringify(String(d))));
  c.on('close', () => { console.log('closed'); s.close(); });
});
